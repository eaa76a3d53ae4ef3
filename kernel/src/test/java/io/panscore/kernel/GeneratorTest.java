package io.panscore.kernel;

import static io.panscore.kernel.TestModels.concat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_sampling_params;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Generation on sessions. Expected values come from elsewhere: greedy tokens from the argmax of
 * the float64 {@link ReferenceKernel} over logits copied out by a plain forward pass, chained by
 * hand; per-token statistics from scoring the generated text afterwards ({@code ps_score}'s
 * in-graph reduction, another path); stop-string cuts from String.indexOf on an unstopped run.
 */
class GeneratorTest {

    /** stories260K.gguf: a trained TinyStories llama (512-token SentencePiece vocabulary). */
    private static final class Stories {
        static final Model MODEL = Model.load(Tol.requireStories260K());
    }

    private static Model stories() {
        return Stories.MODEL;
    }

    /**
     * Generation decodes one token at a time after the prompt; scoring decodes the whole text at
     * once; batched generations share decodes with others. On stories260K such different decode
     * shapes give log-probs that differ by up to ~3e-3 nats (the session path on the same decodes
     * agrees to 1e-6, checked below).
     */
    private static final double DECODE_SHAPE_TOLERANCE = 5e-3;

    private static SessionPool pool(Model model, int contextSize, int maxSequences) {
        return new SessionPool(model, EngineOptions.defaults().withContextSize(contextSize).withMaxSequences(maxSequences).withThreads(2), 0);
    }

    /** The float64 reference statistics of the distribution after {@code context} (logits copied out by ps_forward). */
    private static ReferenceKernel.Stats nextDistribution(Engine engine, int[] context, int target, int topK) {
        int[] withNext = Arrays.copyOf(context, context.length + 1);
        withNext[context.length] = target;
        float[] logits = engine.logits(List.of(new Sequence(withNext, context.length, context.length + 1)));
        return ReferenceKernel.stats(logits, 0, engine.model().info().vocabSize(), target, 1.0, topK);
    }

    @Test
    void greedyGenerationIsTheArgmaxChainedByHand() {
        Model model = stories();
        int[] prompt = model.tokenize("Once upon a time, there was a little girl named Lily.", true, false);
        int n = 40;
        Generation g;
        try (SessionPool pool = pool(model, 256, 2); Generator gen = new Generator(pool)) {
            g = gen.generate(pool.open(prompt), GenerateOptions.greedy(n).withStopAtEndOfGeneration(false).withTopK(3));
        }
        assertEquals(Generation.FinishReason.MAX_TOKENS, g.finishReason());
        assertEquals(n, g.tokens().size());
        // the session path (glimpses, in-graph reduction) on the same decodes: the same numbers
        try (SessionPool p2 = pool(model, 256, 2)) {
            SessionPool.Session s2 = p2.open(prompt);
            for (int i = 0; i < n; i++) {
                Glimpse gl = p2.glimpse(List.of(s2)).getFirst();
                assertEquals(gl.token(), g.tokens().get(i).id());
                assertEquals(gl.entropy(), g.tokens().get(i).entropy(), 1e-6, "the same decodes give the same numbers");
                assertEquals(gl.logprob(), g.tokens().get(i).logprob(), 1e-6);
                p2.append(s2, new int[] {g.tokens().get(i).id()});
            }
        }
        try (Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(256).withThreads(2))) {
            int[] context = prompt;
            for (int i = 0; i < n; i++) {
                ReferenceKernel.Stats ref = nextDistribution(scratch, context, 0, 3);
                GeneratedToken t = g.tokens().get(i);
                assertEquals(ref.argmax(), t.id(), "token " + i);
                assertEquals(1, t.rank());
                assertEquals(ref.argmaxLogprob(), t.logprob(), DECODE_SHAPE_TOLERANCE, "logprob of token " + i);
                assertEquals(ref.entropy(), t.entropy(), DECODE_SHAPE_TOLERANCE, "entropy at token " + i);
                assertArrayEquals(Arrays.copyOf(ref.topIds(), 3), t.topIds());
                context = concat(context, new int[] {ref.argmax()});
            }
        }
        // the text is the tokens' pieces: a continuation that starts with its space
        StringBuilder pieces = new StringBuilder();
        for (int id : g.tokenIds()) {
            pieces.append(model.tokenText(id));
        }
        assertEquals(pieces.toString(), g.text());
        assertTrue(g.text().startsWith(" "), g.text());
        // a trained story model writes English words
        // " She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was"
        String letters = g.text().replaceAll("[^A-Za-z ]", "");
        assertTrue(letters.length() > 0.9 * g.text().length() && g.text().contains(" play "),
                "greedy text on a story model should read like a story: " + g.text());
    }

    @Test
    void eachTokenCarriesTheStatisticsThatScoringTheTextGives() {
        Model model = stories();
        int[] prompt = model.tokenize("One day, a boy went to the park.", true, false);
        int k = 5;
        // sampling at temperature 0.7 with truncation: the statistics still describe the unmodified distribution
        GenerateOptions o = new GenerateOptions(30, new SamplingOptions(0.7, 0.95, 40, 0.02, 1234), List.of(), k, false);
        Generation g;
        try (SessionPool pool = pool(model, 256, 2); Generator gen = new Generator(pool)) {
            g = gen.generate(pool.open(prompt), o);
        }
        int[] full = concat(prompt, g.tokenIds());
        try (Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(256).withThreads(2))) {
            TokenScores s = scratch.score(List.of(new Sequence(full, prompt.length, full.length)), ScoreOptions.defaults().withTopK(k)).getFirst();
            boolean sampledBelowTop = false;
            for (int i = 0; i < g.tokens().size(); i++) {
                GeneratedToken t = g.tokens().get(i);
                assertEquals(s.logprob()[i], t.logprob(), DECODE_SHAPE_TOLERANCE, "logprob " + i);
                assertEquals(s.entropy()[i], t.entropy(), DECODE_SHAPE_TOLERANCE, "entropy " + i);
                assertEquals(s.rank()[i], t.rank(), "rank " + i);
                assertEquals(s.argmax()[i], t.argmax(), "argmax " + i);
                assertArrayEquals(Arrays.copyOfRange(s.topIds(), i * k, i * k + k), t.topIds(), "top ids " + i);
                sampledBelowTop |= t.rank() > 1;
            }
            assertTrue(sampledBelowTop, "a temperature-0.7 draw of 30 tokens picks something other than the argmax at least once");
            // and one position against the float64 reference on copied-out logits
            ReferenceKernel.Stats ref = nextDistribution(scratch, prompt, g.tokens().getFirst().id(), k);
            assertEquals(ref.logprob(), g.tokens().getFirst().logprob(), 1e-4, "the first token: the prompt decoded in one batch both ways");
            assertEquals(ref.rank(), g.tokens().getFirst().rank());
        }
        // exactly the numbers of the session path on the same decodes (sampled with top_k 40: within its top 40)
        try (SessionPool p2 = new SessionPool(model, EngineOptions.defaults().withContextSize(256).withMaxSequences(2).withThreads(2), 40)) {
            SessionPool.Session s2 = p2.open(prompt);
            for (GeneratedToken t : g.tokens()) {
                Glimpse gl = p2.glimpse(List.of(s2)).getFirst();
                assertEquals(gl.entropy(), t.entropy(), 1e-6);
                int at = -1;
                for (int j = 0; j < 40; j++) {
                    at = gl.topIds()[j] == t.id() && at < 0 ? j : at;
                }
                assertTrue(at >= 0, "a top-40 draw is among the 40 best");
                assertEquals(gl.topLogprobs()[at], t.logprob(), 1e-6);
                assertArrayEquals(Arrays.copyOf(gl.topLogprobs(), k), t.topLogprobs(), 1e-6f);
                p2.append(s2, new int[] {t.id()});
            }
        }
    }

    @Test
    void aSeedMakesSamplingDeterministic() {
        Model model = stories();
        int[] prompt = model.tokenize("The cat sat on the mat.", true, false);
        GenerateOptions o = new GenerateOptions(25, SamplingOptions.seeded(42), List.of(), 0, false);
        try (SessionPool pool = pool(model, 512, 4); Generator gen = new Generator(pool)) {
            int[] a = gen.generate(pool.open(prompt), o).tokenIds();
            int[] b = gen.generate(pool.open(prompt), o).tokenIds();
            int[] c = gen.generate(pool.open(prompt), o.withSampling(SamplingOptions.seeded(7))).tokenIds();
            assertArrayEquals(a, b, "the same seed gives the same tokens");
            assertFalse(Arrays.equals(a, c), "another seed gives other tokens");
        }
    }

    @Test
    void stopStringsCutTheTextAndStreamingDeliversExactlyIt() {
        Model model = stories();
        int[] prompt = model.tokenize("Once upon a time, there was a little dog.", true, false);
        try (SessionPool pool = pool(model, 512, 4); Generator gen = new Generator(pool)) {
            Generation free = gen.generate(pool.open(prompt), GenerateOptions.greedy(60).withStopAtEndOfGeneration(false));
            String text = free.text();
            // a stop string that spans several tokens, from the middle of the unstopped text
            int from = text.indexOf(' ', text.length() / 2);
            String stop = text.substring(from, Math.min(text.length(), from + 7));
            int expectedCut = text.indexOf(stop);
            List<String> deltas = new ArrayList<>();
            Generation stopped = gen.submit(pool.open(prompt), GenerateOptions.greedy(60).withStopAtEndOfGeneration(false)
                    .withStop(List.of("never appears \u00e9", stop)), (t, d) -> deltas.add(d)).await();
            assertEquals(Generation.FinishReason.STOP_STRING, stopped.finishReason());
            assertEquals(stop, stopped.stopString());
            assertEquals(text.substring(0, expectedCut), stopped.text());
            assertEquals(stopped.text(), String.join("", deltas));
            assertEquals(stopped.tokens().size(), deltas.size(), "one callback per token");
            assertTrue(stopped.tokens().size() < free.tokens().size());
            assertArrayEquals(Arrays.copyOf(free.tokenIds(), stopped.tokens().size()), stopped.tokenIds());

            Generation three = gen.generate(pool.open(prompt), GenerateOptions.greedy(3));
            assertEquals(Generation.FinishReason.MAX_TOKENS, three.finishReason());
            assertArrayEquals(Arrays.copyOf(free.tokenIds(), 3), three.tokenIds());
        }
    }

    @Test
    void endOfGenerationTokensEndTheGeneration() {
        // stories260K never produces EOS (its stories are separated by BOS); the random-weight fixture
        // at temperature 100 draws nearly uniformly from its 2,051 tokens, <|im_end|> included, and
        // seed 24 reaches it at token 53
        Model model = TestModels.tiny();
        int[] prompt = model.tokenize("Hello", true, false);
        SamplingOptions nearlyUniform = new SamplingOptions(100, 1, 0, 0, 24);
        try (SessionPool pool = pool(model, 256, 4); Generator gen = new Generator(pool)) {
            Generation g = gen.generate(pool.open(prompt), new GenerateOptions(200, nearlyUniform, List.of(), 0, true));
            assertEquals(Generation.FinishReason.END_OF_GENERATION, g.finishReason());
            GeneratedToken last = g.tokens().getLast();
            assertEquals(model.info().eot(), last.id(), "<|im_end|>, the model's end-of-turn token");
            assertTrue(last.endOfGeneration());
            for (GeneratedToken t : g.tokens()) {
                assertEquals(t.id() == model.info().eos() || t.id() == model.info().eot(), t.endOfGeneration(), "token " + t.id());
            }
            assertFalse(g.text().contains("<|im_end|>"), "an end-of-generation token adds no text");
            // without stopping there, the same draws continue past it
            Generation on = gen.generate(pool.open(prompt), new GenerateOptions(g.tokens().size() + 3, nearlyUniform, List.of(), 0, false));
            assertEquals(Generation.FinishReason.MAX_TOKENS, on.finishReason());
            assertArrayEquals(g.tokenIds(), Arrays.copyOf(on.tokenIds(), g.tokens().size()));
        }
    }

    @Test
    void concurrentGenerationsAreBatchedAndGiveWhatEachGivesAlone() throws Exception {
        Model model = stories();
        String[] starts = {"Once upon a time", "Tom had a red car.", "The sun was hot.", "Sue liked to sing and dance.", "A bird flew"};
        int[] lengths = {12, 30, 7, 21, 16};
        List<Generation> alone = new ArrayList<>();
        try (SessionPool pool = pool(model, 1024, 8); Generator gen = new Generator(pool)) {
            for (int i = 0; i < starts.length; i++) {
                alone.add(gen.generate(pool.open(model.tokenize(starts[i], true, false)), GenerateOptions.greedy(lengths[i]).withStopAtEndOfGeneration(false)));
            }
        }
        try (SessionPool pool = pool(model, 1024, 8); Generator gen = new Generator(pool)) {
            List<Generator.Handle> handles = new ArrayList<>();
            CountDownLatch third = new CountDownLatch(1);
            CountDownLatch joined = new CountDownLatch(1);
            int[] seen = {0};
            for (int i = 0; i < 4; i++) {
                handles.add(gen.submit(pool.open(model.tokenize(starts[i], true, false)), GenerateOptions.greedy(lengths[i]).withStopAtEndOfGeneration(false),
                        i == 1 ? (t, d) -> {
                            if (++seen[0] == 3) { // hold the generator here until the fifth is queued
                                third.countDown();
                                try {
                                    joined.await();
                                } catch (InterruptedException e) {
                                    throw new IllegalStateException(e);
                                }
                            }
                        } : null));
            }
            third.await(); // the fifth joins while the others are generating
            handles.add(gen.submit(pool.open(model.tokenize(starts[4], true, false)), GenerateOptions.greedy(lengths[4]).withStopAtEndOfGeneration(false), null));
            joined.countDown();
            for (int i = 0; i < starts.length; i++) {
                Generation together = handles.get(i).await();
                assertArrayEquals(alone.get(i).tokenIds(), together.tokenIds(), "generation " + i);
                assertEquals(alone.get(i).text(), together.text());
                for (int t = 0; t < lengths[i]; t++) {
                    // batch composition changes the float sums a little (up to ~3e-3 nats here)
                    assertEquals(alone.get(i).tokens().get(t).logprob(), together.tokens().get(t).logprob(), DECODE_SHAPE_TOLERANCE);
                }
            }
            // one step per token of every generation at once: the fifth (16 tokens) ran entirely
            // beside the second (30 tokens, 27 left when the fifth joined), so those 16 steps were shared
            int total = Arrays.stream(lengths).sum();
            assertTrue(gen.steps() <= total - lengths[4], gen.steps() + " steps for " + total + " tokens");
            assertTrue(gen.steps() >= lengths[1], "at least one step per token of the longest");
        }
    }

    @Test
    void aGlimpsedSessionGeneratesLikeAFreshOne() {
        Model model = stories();
        int[] prompt = model.tokenize("Lily and Ben went to the beach.", true, false);
        try (SessionPool pool = pool(model, 512, 4); Generator gen = new Generator(pool)) {
            Generation fresh = gen.generate(pool.open(prompt), GenerateOptions.greedy(10));
            SessionPool.Session s = pool.open(prompt);
            Glimpse first = pool.glimpse(List.of(s)).getFirst(); // decodes everything: nothing pending
            Generation again = gen.generate(s, GenerateOptions.greedy(10));
            assertEquals(first.token(), again.tokens().getFirst().id());
            assertArrayEquals(fresh.tokenIds(), again.tokenIds());
            assertEquals(prompt.length + 10, s.length(), "the session holds prompt and generated tokens");
            // and it can go on from there
            Generation more = gen.generate(s, GenerateOptions.greedy(5));
            Generation longer = gen.generate(pool.open(prompt), GenerateOptions.greedy(15));
            assertArrayEquals(Arrays.copyOfRange(longer.tokenIds(), 10, 15), more.tokenIds());
        }
    }

    @Test
    void cancellationAndClosing() throws Exception {
        Model model = stories();
        int[] prompt = model.tokenize("Once upon a time", true, false);
        try (SessionPool pool = pool(model, 2048, 8)) {
            Generator gen = new Generator(pool);
            Generator.Handle[] self = new Generator.Handle[1];
            CountDownLatch submitted = new CountDownLatch(1);
            List<GeneratedToken> seen = new ArrayList<>();
            self[0] = gen.submit(pool.open(prompt), GenerateOptions.greedy(300).withStopAtEndOfGeneration(false), (t, d) -> {
                try {
                    submitted.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                seen.add(t);
                if (seen.size() == 5) {
                    self[0].cancel();
                }
            });
            submitted.countDown();
            Generation g = self[0].await();
            assertEquals(Generation.FinishReason.CANCELLED, g.finishReason());
            assertEquals(5, g.tokens().size(), "cancelled before the sixth step");

            // closing the generator cancels a running generation
            CountDownLatch started = new CountDownLatch(1);
            Generator.Handle h = gen.submit(pool.open(prompt), GenerateOptions.greedy(400).withStopAtEndOfGeneration(false), (t, d) -> started.countDown());
            started.await();
            gen.close();
            gen.close();
            Generation cut = h.await();
            assertEquals(Generation.FinishReason.CANCELLED, cut.finishReason());
            assertTrue(cut.tokens().size() < 400);
            assertThrows(ClosedException.class, () -> gen.submit(pool.open(prompt), GenerateOptions.greedy(1), null));

            // a listener that throws fails its own generation only
            try (Generator gen2 = new Generator(pool)) {
                Generator.Handle bad = gen2.submit(pool.open(prompt), GenerateOptions.greedy(5), (t, d) -> {
                    throw new IllegalStateException("listener broke");
                });
                IllegalStateException e = assertThrows(IllegalStateException.class, bad::await);
                assertEquals("listener broke", e.getMessage());
                assertEquals(4, gen2.generate(pool.open(prompt), GenerateOptions.greedy(4)).tokens().size());
            }
        }
    }

    @Test
    void theContextBoundsAGeneration() {
        Model model = stories();
        int[] prompt = model.tokenize("Once upon a time", true, false);
        try (SessionPool pool = pool(model, 32, 2); Generator gen = new Generator(pool)) {
            SessionPool.Session s = pool.open(prompt);
            Generation g = gen.generate(s, GenerateOptions.greedy(1000).withStopAtEndOfGeneration(false));
            assertEquals(Generation.FinishReason.CONTEXT_FULL, g.finishReason());
            assertEquals(32 - prompt.length, g.tokens().size());
            assertEquals(32, s.length());
            Generation none = gen.generate(s, GenerateOptions.greedy(5));
            assertEquals(Generation.FinishReason.CONTEXT_FULL, none.finishReason());
            assertEquals(0, none.tokens().size());
            assertNull(none.stopString());
        }
    }

    @Test
    void badInputGetsTypedErrors() {
        Model model = stories();
        assertThrows(InvalidInputException.class, () -> new SamplingOptions(-0.5, 1, 0, 0, -1));
        assertThrows(InvalidInputException.class, () -> new SamplingOptions(Double.NaN, 1, 0, 0, -1));
        assertThrows(InvalidInputException.class, () -> new SamplingOptions(1, 1.5, 0, 0, -1));
        assertThrows(InvalidInputException.class, () -> new SamplingOptions(1, 1, -1, 0, -1));
        assertThrows(InvalidInputException.class, () -> new SamplingOptions(1, 1, 0, 1, -1));
        InvalidInputException seed = assertThrows(InvalidInputException.class, () -> new SamplingOptions(1, 1, 0, 0, 1L << 32));
        assertTrue(seed.getMessage().contains("seed"), seed.getMessage());
        assertThrows(InvalidInputException.class, () -> GenerateOptions.greedy(0));
        assertThrows(InvalidInputException.class, () -> GenerateOptions.greedy(5).withStop(List.of("")));
        assertThrows(InvalidInputException.class, () -> GenerateOptions.greedy(5).withTopK(-1));

        // the native checks stand on their own (a caller of the C ABI gets a status, not a crash)
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = panscore_h.ps_sampling_default_params(arena);
            assertEquals(1.0f, ps_sampling_params.temperature(p));
            assertEquals(-1L, ps_sampling_params.seed(p));
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            ps_sampling_params.top_p(p, 2.0f);
            assertEquals(panscore_h.PS_ERR_INVALID_ARGUMENT(), panscore_h.ps_sampler_create(p, out));
            assertTrue(NativeCalls.lastError().contains("top_p"), NativeCalls.lastError());
            ps_sampling_params.top_p(p, 1.0f);
            ps_sampling_params.seed(p, 4_294_967_295L);
            assertEquals(panscore_h.PS_ERR_INVALID_ARGUMENT(), panscore_h.ps_sampler_create(p, out));
            assertEquals(MemorySegment.NULL, out.get(ValueLayout.ADDRESS, 0));
            assertEquals(panscore_h.PS_ERR_INVALID_ARGUMENT(), panscore_h.ps_session_sample(MemorySegment.NULL, MemorySegment.NULL, 0,
                    MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL));
            panscore_h.ps_sampler_free(MemorySegment.NULL);
        }

        int[] prompt = model.tokenize("Once upon a time", true, false);
        try (SessionPool pool = pool(model, 128, 2); Generator gen = new Generator(pool)) {
            SessionPool.Session s = pool.open(prompt);
            Generator.Handle running = gen.submit(s, GenerateOptions.greedy(50).withStopAtEndOfGeneration(false), null);
            InvalidInputException twice = assertThrows(InvalidInputException.class, () -> gen.submit(s, GenerateOptions.greedy(5), null));
            assertTrue(twice.getMessage().contains("already generating"), twice.getMessage());
            running.await();
            pool.close(s);
            assertThrows(ClosedException.class, () -> gen.generate(s, GenerateOptions.greedy(5)));
            assertThrows(InvalidInputException.class, () -> gen.generate(null, GenerateOptions.greedy(5)));
            // the generator still works
            assertEquals(3, gen.generate(pool.open(prompt), GenerateOptions.greedy(3)).tokens().size());
        }
    }

    @Test
    void utf8PiecesAreJoinedBeforeTheyBecomeText() {
        // bytes of "é" (C3 A9) and "€" (E2 82 AC) split across pieces
        assertEquals(0, Generator.completeLength(new byte[] {(byte) 0xC3}));
        assertEquals(2, Generator.completeLength(new byte[] {(byte) 0xC3, (byte) 0xA9}));
        assertEquals(1, Generator.completeLength(new byte[] {'a', (byte) 0xE2, (byte) 0x82}));
        assertEquals(4, Generator.completeLength(new byte[] {'a', (byte) 0xE2, (byte) 0x82, (byte) 0xAC}));
        assertEquals(2, Generator.heldBack("the end", List.of("ndx", "zzz")));
        assertEquals(0, Generator.heldBack("the end", List.of("xyz")));
        assertNotEquals(0, Generator.heldBack("ab", List.of("b!")));
    }
}
