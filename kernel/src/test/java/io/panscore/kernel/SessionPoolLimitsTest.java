package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * SessionPool's bookkeeping at its edges, counted by hand: the reserve's limits, the KV budget
 * filled exactly, token ids at the vocabulary's edge, the tokens decoded per glimpse, the cells a
 * fork holds, session ids, and the messages that name the limit hit.
 */
class SessionPoolLimitsTest {

    static final int VOCAB = 2051; // the tiny fixture's vocabulary (FixtureSpec.tinyQwen2Small)

    static int[] tokens(int n, int id) {
        int[] t = new int[n];
        Arrays.fill(t, id);
        return t;
    }

    @Test
    void reserveLimitsAndTheBudgetFilledExactly() {
        Model model = TestModels.tiny();
        assertEquals(VOCAB, model.info().vocabSize());
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(64).withMaxSequences(3), 0)) {
            // the reserve must leave room: slots in [0, 3), tokens in [0, 64)
            assertDoesNotThrow(() -> pool.setReserve(2, 63));
            assertDoesNotThrow(() -> pool.setReserve(0, 0));
            for (int[] bad : new int[][] {{3, 0}, {-1, 0}, {0, 64}, {0, -1}}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pool.setReserve(bad[0], bad[1]));
                assertTrue(e.getMessage().contains("slots in [0, 3), tokens in [0, 64)"), e.getMessage());
            }
            // a context of exactly the cache fits; one more token does not
            assertThrows(ContextOverflowException.class, () -> pool.open(tokens(65, 7)));
            assertThrows(InvalidInputException.class, () -> pool.open(new int[0]));
            SessionPool.Session full = pool.open(tokens(64, 7));
            assertEquals(64, pool.usedTokens());
            CapacityException none = assertThrows(CapacityException.class, () -> pool.open(tokens(1, 7)));
            assertTrue(none.getMessage().contains("hold 64 tokens; 1 more would not fit the KV cache of 64"), none.getMessage());
            assertFalse(none.getMessage().contains("one-shot"), none.getMessage());
            pool.close(full);
            assertEquals(0, pool.usedTokens());
            // with a reserve of 1 slot and 10 cells: long-lived sessions get 2 slots and 54 cells
            pool.setReserve(1, 10);
            SessionPool.Session a = pool.open(tokens(50, 7));
            pool.append(a, tokens(4, 8)); // 54: exactly what the reserve leaves
            CapacityException kept = assertThrows(CapacityException.class, () -> pool.append(a, tokens(1, 8)));
            assertTrue(kept.getMessage().contains("(10 kept for one-shot glimpses)"), kept.getMessage());
            assertEquals(54, a.length());
            SessionPool.Session oneShot = pool.open(tokens(10, 7), true); // the reserve: 64 in all
            assertEquals(64, pool.usedTokens());
            pool.close(oneShot);
            pool.setReserve(1, 0);
            SessionPool.Session b = pool.open(tokens(1, 7));
            CapacityException slots = assertThrows(CapacityException.class, () -> pool.open(tokens(1, 7)));
            assertTrue(slots.getMessage().contains("all 2 session slots are in use (1 more kept for one-shot glimpses)"), slots.getMessage());
            assertEquals(2, pool.openCount());
            pool.close(b);
            pool.close(a);
            assertEquals(0, pool.openCount());
        }
    }

    @Test
    void tokenIdsDecodedCountsForksAndIds() {
        Model model = TestModels.tiny();
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(128).withMaxSequences(4), 3)) {
            TokenOutOfRangeException high = assertThrows(TokenOutOfRangeException.class, () -> pool.open(new int[] {5, VOCAB}));
            assertTrue(high.getMessage().contains("token 1: id 2051 is outside the vocabulary [0, 2051)"), high.getMessage());
            SessionPool.Session s = pool.open(new int[] {5, VOCAB - 1, 0});
            SessionPool.Session t = pool.open(new int[] {9, 10});
            assertEquals(s.id() + 1, t.id(), "ids count up");
            assertEquals(0, pool.decodedTokens());
            List<Glimpse> g = pool.glimpse(List.of(s, t));
            assertEquals(5, pool.decodedTokens(), "3 + 2 tokens decoded");
            assertEquals(3, g.get(0).topIds().length, "topK 3");
            pool.append(s, new int[] {11, 12});
            pool.append(s, new int[0]); // nothing: nothing changes
            assertEquals(5, s.length());
            Glimpse again = pool.glimpse(List.of(t)).getFirst();
            assertSame(g.get(1), again, "nothing pending: the last summary, no decode");
            assertEquals(5, pool.decodedTokens());
            pool.glimpse(List.of(s));
            assertEquals(7, pool.decodedTokens(), "the two appended tokens");
            // a fork holds as many cells as its source (counted again) and answers from its summary
            long before = pool.usedTokens();
            SessionPool.Session f = pool.fork(s);
            assertEquals(before + 5, pool.usedTokens());
            assertEquals(5, f.length());
            assertEquals(t.id() + 1, f.id());
            assertSame(pool.glimpse(List.of(s)).getFirst(), pool.glimpse(List.of(f)).getFirst());
            assertEquals(7, pool.decodedTokens(), "a fork decodes nothing");
            pool.append(f, new int[] {13});
            pool.glimpse(List.of(f));
            assertEquals(8, pool.decodedTokens());
            pool.close(s);
            assertTrue(s.isClosed());
            assertFalse(f.isClosed(), "closing the source leaves the fork");
            assertThrows(ClosedException.class, () -> pool.fork(s));
            assertEquals(6, f.length());
            assertEquals(3, pool.glimpse(List.of(f)).getFirst().topIds().length, "the fork's cells outlive its source");
        }
        assertThrows(IllegalArgumentException.class, () -> new SessionPool(TestModels.tiny(), EngineOptions.defaults().withContextSize(64), -1));
        assertThrows(IllegalArgumentException.class, () -> new SessionPool(TestModels.tiny(), EngineOptions.defaults().withContextSize(64), VOCAB + 1));
        try (SessionPool all = new SessionPool(TestModels.tiny(), EngineOptions.defaults().withContextSize(64), VOCAB)) {
            assertEquals(64, all.options().contextSize());
            assertSame(TestModels.tiny(), all.model());
        }
    }
}
