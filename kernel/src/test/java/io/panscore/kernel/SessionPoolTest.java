package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SessionPoolTest {

    private static final int K = 20;

    @Test
    void glimpsesMatchTheReferenceAndAppendingEqualsDecodingFromScratch() {
        Model model = TestModels.tiny();
        int[] prompt = model.tokenize("<|im_start|>user\nCount to five.<|im_end|>\n<|im_start|>assistant\n", true, true);
        String[] steps = {"One, two.\n\n", "Three, four.\n\n", "Five."};
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(512).withMaxSequences(4), K);
                Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            SessionPool.Session s = pool.open(prompt);
            int[] context = prompt;
            for (String step : steps) {
                Glimpse g = pool.glimpse(List.of(s)).getFirst();
                ReferenceKernel.Stats ref = NextTokenReference.of(scratch, context, K);
                assertEquals(ref.entropy(), g.entropy(), 1e-4);
                assertEquals(ref.argmax(), g.token());
                assertEquals(ref.argmaxLogprob(), g.logprob(), 1e-4);
                // the top-K renormalised entropy, computed here in float64 from the reference's top-K log-probs
                assertEquals(Tol.renormalisedEntropy(ref.topLogprobs()), g.topKEntropy(), 1e-4);
                assertTrue(g.topKEntropy() <= Math.log(K) + 1e-9);
                assertEquals(ref.topIds()[0], g.topIds()[0]);
                int[] add = model.tokenize(step, false, false);
                pool.append(s, add);
                int[] grown = Arrays.copyOf(context, context.length + add.length);
                System.arraycopy(add, 0, grown, context.length, add.length);
                context = grown;
            }
            assertEquals(context.length, s.length());
            Glimpse again = pool.glimpse(List.of(s)).getFirst();
            assertEquals(again, pool.glimpse(List.of(s)).getFirst(), "nothing pending: the same summary");
        }
    }

    @Test
    void batchedGlimpsesEqualSingleOnesAndForksShareTheirPast() {
        Model model = TestModels.tiny();
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(1024).withMaxSequences(8), K)) {
            List<SessionPool.Session> sessions = new ArrayList<>();
            List<Glimpse> single = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                SessionPool.Session s = pool.open(model.tokenize("Question number " + i + " is about " + "x".repeat(i) + ".", true, false));
                sessions.add(s);
            }
            try (SessionPool other = new SessionPool(model, EngineOptions.defaults().withContextSize(1024).withMaxSequences(8), K)) {
                for (int i = 0; i < 5; i++) {
                    single.add(other.glimpse(List.of(other.open(model.tokenize("Question number " + i + " is about " + "x".repeat(i) + ".", true, false)))).getFirst());
                }
            }
            List<Glimpse> batched = pool.glimpse(sessions);
            for (int i = 0; i < 5; i++) {
                assertEquals(single.get(i).entropy(), batched.get(i).entropy(), 1e-4);
                assertEquals(single.get(i).token(), batched.get(i).token());
            }
            SessionPool.Session fork = pool.fork(sessions.get(2));
            int[] step = model.tokenize(" And more.", false, false);
            pool.append(fork, step);
            pool.append(sessions.get(2), step);
            List<Glimpse> both = pool.glimpse(List.of(fork, sessions.get(2)));
            assertEquals(both.get(0).entropy(), both.get(1).entropy(), 1e-4);
            assertEquals(both.get(0).token(), both.get(1).token());
        }
    }

    @Test
    void capacityAndClosedSessions() {
        Model model = TestModels.tiny();
        int[] ctx = model.tokenize("Some context here.", true, false);
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(64).withMaxSequences(2), 0)) {
            SessionPool.Session a = pool.open(ctx);
            SessionPool.Session b = pool.open(ctx);
            CapacityException full = assertThrows(CapacityException.class, () -> pool.open(ctx));
            assertTrue(full.getMessage().contains("all 2 session slots"), full.getMessage());
            pool.glimpse(List.of(a, b));
            int[] lots = new int[60];
            Arrays.fill(lots, ctx[1]);
            assertThrows(ContextOverflowException.class, () -> pool.append(a, lots));
            pool.append(a, Arrays.copyOf(lots, 40));
            // the KV cells are reserved when tokens enter a session: the append that would overfill
            // the cache is refused, and the sessions already admitted can still glimpse
            CapacityException kv = assertThrows(CapacityException.class, () -> pool.append(b, Arrays.copyOf(lots, 40)));
            assertTrue(kv.getMessage().contains("KV cache"), kv.getMessage());
            assertEquals(ctx.length, b.length(), "a refused append leaves the session as it was");
            assertEquals(ctx.length + 40, a.length());
            pool.glimpse(List.of(a, b));
            pool.close(b);
            pool.close(b);
            assertThrows(ClosedException.class, () -> pool.glimpse(List.of(b)));
            assertThrows(ClosedException.class, () -> pool.append(b, ctx));
            assertEquals(1, pool.openCount());
            Glimpse after = pool.glimpse(List.of(a)).getFirst(); // now there is room
            int[] grown = Arrays.copyOf(ctx, ctx.length + 40);
            System.arraycopy(lots, 0, grown, ctx.length, 40);
            try (Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(64))) {
                ReferenceKernel.Stats ref = NextTokenReference.of(scratch, grown, K);
                assertEquals(ref.entropy(), after.entropy(), 1e-4, "the failed decode was undone: the context is exactly ctx + 40 tokens");
                assertEquals(ref.argmax(), after.token());
            }
            assertThrows(InvalidInputException.class, () -> pool.glimpse(List.of(a, a)));
            assertThrows(TokenOutOfRangeException.class, () -> pool.append(a, new int[] {-1}));
        }
    }

    @Test
    void anIdleSessionCannotMakeOthersGlimpsesFailAndTheReserveIsKeptForTransientSessions() {
        Model model = TestModels.tiny();
        int[] ctx = model.tokenize("Some context here.", true, false);
        int[] big = new int[60];
        Arrays.fill(big, ctx[1]);
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(64).withMaxSequences(3), 0)) {
            SessionPool.Session idle = pool.open(big); // 60 of 64 cells, never glimpsed
            // the next session would overfill the cache: refused at open, not at somebody's glimpse
            assertThrows(CapacityException.class, () -> pool.open(ctx));
            assertEquals(60, pool.usedTokens());
            pool.glimpse(List.of(idle));
            pool.close(idle);
            pool.setReserve(1, 16);
            SessionPool.Session a = pool.open(Arrays.copyOf(big, 40));
            // 40 + 16 reserved: 8 cells and one slot left for long-lived sessions
            assertThrows(CapacityException.class, () -> pool.open(Arrays.copyOf(big, 9)));
            SessionPool.Session b = pool.open(Arrays.copyOf(big, 8));
            CapacityException slots = assertThrows(CapacityException.class, () -> pool.open(new int[] {ctx[1]}));
            assertTrue(slots.getMessage().contains("one-shot"), slots.getMessage());
            assertThrows(CapacityException.class, () -> pool.append(a, new int[] {ctx[1]}));
            SessionPool.Session oneShot = pool.open(Arrays.copyOf(big, 16), true); // the reserve
            assertEquals(3, pool.glimpse(List.of(a, b, oneShot)).size());
            pool.close(oneShot);
        }
    }
}
