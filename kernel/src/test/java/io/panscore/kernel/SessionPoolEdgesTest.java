package io.panscore.kernel;

import static io.panscore.kernel.NextTokenReference.assertMatches;
import static io.panscore.kernel.TestModels.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.EngineOptions.KvCache;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * SessionPool at the edges its other tests leave out (PIT survivors, docs/TESTING-kernel.md):
 * {@link SessionPool#forkPrefix} (a fork of a prefix whose glimpse must equal the float64 reference
 * on the new context decoded from scratch), a session filled to exactly its context, the budget a
 * fork needs, the limit names in the messages (unified cache vs a per-sequence stream), and a
 * closed pool. Every count is by hand.
 */
class SessionPoolEdgesTest {

    private static final int K = 4;

    /** The float64 reference of the distribution after {@code context}, decoded from scratch. */
    private static ReferenceKernel.Stats reference(Model model, int[] context) {
        return NextTokenReference.fromScratch(model, context, K);
    }

    private static int[] range(int from, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = from + 7 * i;
        }
        return t;
    }

    @Test
    void forkPrefixSharesTheDecodedPrefixAndGlimpsesLikeAContextDecodedFromScratch() {
        Model model = TestModels.tiny();
        int[] a = range(100, 10);
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(128).withMaxSequences(4), K)) {
            SessionPool.Session s = pool.open(a);
            pool.glimpse(List.of(s)); // s: 10 tokens decoded
            long decoded = pool.decodedTokens();
            assertEquals(10, decoded);

            // the first 6 tokens shared, 3 new ones: 6 cells copied, 3 tokens pending
            int[] b = concat(Arrays.copyOf(a, 6), new int[] {900, 901, 902});
            SessionPool.Session f = pool.forkPrefix(s, 6, b);
            assertEquals(s.id() + 1, f.id());
            assertEquals(9, f.length());
            assertEquals(10 + 9, pool.usedTokens());
            assertMatches(reference(model, b), pool.glimpse(List.of(f)).getFirst(), "prefix fork");
            assertEquals(decoded + 3, pool.decodedTokens(), "only the 3 new tokens were decoded");
            assertFalse(s.isClosed(), "the source stays open");
            assertEquals(10, s.length());

            // the whole context shared: the last token stays pending so the glimpse has a distribution
            SessionPool.Session whole = pool.forkPrefix(s, a.length, a);
            assertEquals(f.id() + 1, whole.id());
            assertMatches(reference(model, a), pool.glimpse(List.of(whole)).getFirst(), "whole fork");
            assertEquals(decoded + 3 + 1, pool.decodedTokens(), "one token re-decoded");
            pool.close(whole);

            // nothing shared: everything decoded anew
            int[] c = range(300, 5);
            SessionPool.Session fresh = pool.forkPrefix(s, 0, c);
            assertMatches(reference(model, c), pool.glimpse(List.of(fresh)).getFirst(), "nothing shared");
            pool.close(fresh);

            // a shared count beyond what s has decoded: only the decoded part is copied
            pool.append(s, new int[] {500, 501});
            int[] d = concat(a, new int[] {500, 501, 502});
            SessionPool.Session past = pool.forkPrefix(s, 12, d);
            assertMatches(reference(model, d), pool.glimpse(List.of(past)).getFirst(), "beyond the decoded part");
            assertEquals(decoded + 3 + 1 + 5 + 3, pool.decodedTokens(), "10 copied, 3 decoded");
            pool.close(past);
            assertEquals(past.id() + 1, pool.open(new int[] {1}).id(), "ids count up across forks");

            for (int[] bad : new int[][] {{-1, 3}, {4, 3}, {0, 0}}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pool.forkPrefix(s, bad[0], range(1, bad[1])));
                assertEquals("forkPrefix: " + bad[0] + " shared tokens of a context of " + bad[1], e.getMessage());
            }
            assertThrows(TokenOutOfRangeException.class, () -> pool.forkPrefix(s, 1, new int[] {a[0], 2051}));
            ContextOverflowException over = assertThrows(ContextOverflowException.class, () -> pool.forkPrefix(s, 1, range(1, 129)));
            assertTrue(over.getMessage().contains("129 tokens is more than the KV cache of 128 tokens"), over.getMessage());
            pool.close(f);
            pool.close(s);
            assertThrows(ClosedException.class, () -> pool.forkPrefix(s, 1, a));
        }
    }

    @Test
    void forkAndForkPrefixNeedRoomForWhatTheyHold() {
        Model model = TestModels.tiny();
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(100).withMaxSequences(4), 0)) {
            SessionPool.Session s = pool.open(range(10, 40));
            SessionPool.Session f = pool.fork(s); // 80 of 100
            assertEquals(80, pool.usedTokens());
            CapacityException fork = assertThrows(CapacityException.class, () -> pool.fork(s));
            assertTrue(fork.getMessage().contains("hold 80 tokens; 40 more would not fit the KV cache of 100"), fork.getMessage());
            CapacityException prefix = assertThrows(CapacityException.class, () -> pool.forkPrefix(s, 5, range(10, 21)));
            assertTrue(prefix.getMessage().contains("hold 80 tokens; 21 more"), prefix.getMessage());
            SessionPool.Session g = pool.forkPrefix(s, 5, range(10, 20)); // exactly 100
            assertEquals(100, pool.usedTokens());
            assertEquals(f.id() + 1, g.id());
            pool.close(g);
            assertEquals(g.id() + 1, pool.open(new int[] {3}).id());
        }
    }

    @Test
    void aSessionFilledToExactlyItsContextAndTheLimitsItsMessagesName() {
        Model model = TestModels.tiny();
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(64).withMaxSequences(2), 0)) {
            SessionPool.Session s = pool.open(range(10, 60));
            pool.append(s, range(20, 4)); // 64: exactly the cache
            assertEquals(64, s.length());
            ContextOverflowException over = assertThrows(ContextOverflowException.class, () -> pool.append(s, new int[] {5}));
            assertTrue(over.getMessage().contains("session " + s.id() + " would hold 65 tokens, more than the KV cache of 64"), over.getMessage());
            pool.close(s);
            SessionPool.Session a = pool.open(new int[] {1});
            pool.open(new int[] {2});
            CapacityException slots = assertThrows(CapacityException.class, () -> pool.open(new int[] {3}));
            assertTrue(slots.getMessage().contains("all 2 session slots are in use; close sessions"), slots.getMessage());
            assertFalse(slots.getMessage().contains("kept"), slots.getMessage());
            // closing the pool closes its sessions
            pool.close();
            assertEquals(0, pool.openCount());
            assertThrows(ClosedException.class, () -> pool.append(a, new int[] {4}));
        }
        // a per-sequence KV cache: each session holds at most one stream, contextSize / maxSequences
        // = 256 tokens (llama.cpp sizes streams in multiples of 256: PerSequenceKvTest)
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(512).withMaxSequences(2).withKvCache(KvCache.PER_SEQUENCE), 0)) {
            SessionPool.Session s = pool.open(range(10, 250));
            pool.append(s, range(30, 6)); // 256: exactly its stream
            ContextOverflowException over = assertThrows(ContextOverflowException.class, () -> pool.append(s, new int[] {5}));
            assertTrue(over.getMessage().contains("would hold 257 tokens, more than a session's KV stream (per-sequence KV cache: contextSize / maxSequences) of 256"),
                    over.getMessage());
            ContextOverflowException open = assertThrows(ContextOverflowException.class, () -> pool.open(range(1, 257)));
            assertTrue(open.getMessage().contains("257 tokens is more than a session's KV stream"), open.getMessage());
            // forkPrefix: a context of exactly one stream fits, one more token does not
            assertThrows(ContextOverflowException.class, () -> pool.forkPrefix(s, 4, range(10, 257)));
            SessionPool.Session f = pool.forkPrefix(s, 4, range(10, 256));
            assertEquals(256, f.length());
        }
    }

    @Test
    void batchedGlimpsesGiveEachSessionItsOwnTopAlternatives() {
        Model model = TestModels.tiny();
        int[][] contexts = {range(100, 6), range(400, 9), range(700, 4)};
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(128).withMaxSequences(4), K)) {
            List<Glimpse> together = pool.glimpse(List.of(pool.open(contexts[0]), pool.open(contexts[1]), pool.open(contexts[2])));
            for (int i = 0; i < 3; i++) {
                ReferenceKernel.Stats ref = reference(model, contexts[i]);
                Glimpse g = together.get(i);
                assertMatches(ref, g, "session " + i);
                assertEquals(K, g.topIds().length);
                for (int j = 0; j < K; j++) {
                    assertEquals(ref.topLogprobs()[j], g.topLogprobs()[j], 1e-4, "session " + i + " alternative " + j);
                }
            }
        }
    }
}
