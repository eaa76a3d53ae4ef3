package io.panscore.kernel;

import static io.panscore.kernel.TestModels.concat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_append;
import io.panscore.bindings.ps_token_stats;
import io.panscore.kernel.EngineOptions.KvCache;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One KV stream per sequence slot (EngineOptions.KvCache.PER_SEQUENCE, issue 18). The statistics
 * read from llama.cpp's output buffer after each decode are bit for bit the reduction of the very
 * logits rows llama.cpp computed (the same native reduction run on those rows copied out), match
 * the float64 {@link ReferenceKernel} on them, and equal one sequence per call within the
 * decode-shape tolerance (a different batch shape changes llama.cpp's float sums in the last bits,
 * in either KV layout; PackingTest's bound). Packed scoring, shared prompts, sessions (forks
 * included) and batched generation are covered; what does not fit a slot's stream is a typed error.
 */
class PerSequenceKvTest {

    private static EngineOptions perSeq(int contextSize, int maxSequences) {
        return EngineOptions.defaults().withContextSize(contextSize).withMaxSequences(maxSequences).withThreads(2)
                .withKvCache(KvCache.PER_SEQUENCE);
    }

    private static EngineOptions unified(int contextSize, int maxSequences) {
        return EngineOptions.defaults().withContextSize(contextSize).withMaxSequences(maxSequences).withThreads(2);
    }

    /** Sequences of many lengths (2 .. ~120 tokens), scoring ranges not starting at 1 included. */
    private static List<Sequence> sequences(Model model) {
        int[] all = model.tokenize(TestModels.TEXT + " " + TestModels.TEXT, true, false);
        List<Sequence> seqs = new ArrayList<>();
        for (int len = 2; len < all.length; len += 7) {
            int[] t = Arrays.copyOfRange(all, all.length - len, all.length);
            seqs.add(len > 10 ? new Sequence(t, 3, len - 1) : new Sequence(t, 1, len));
        }
        return seqs;
    }

    /** llama.cpp's float sums depend on the decode's shape (ubatch size, split), by ~1e-6 here. */
    private static final double DECODE_SHAPE = 1e-4;

    private static void assertClose(TokenScores want, TokenScores got, String where) {
        assertEquals(want.size(), got.size(), where);
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.logprob()[i], got.logprob()[i], DECODE_SHAPE, where + " logprob " + i);
            assertEquals(want.entropy()[i], got.entropy()[i], DECODE_SHAPE, where + " entropy " + i);
            assertEquals(want.argmaxLogprob()[i], got.argmaxLogprob()[i], DECODE_SHAPE, where + " argmax logprob " + i);
        }
        assertArrayEquals(want.rank(), got.rank(), where + " rank");
        assertArrayEquals(want.argmax(), got.argmax(), where + " argmax");
        assertArrayEquals(want.topIds(), got.topIds(), where + " top-k ids");
    }

    private static void assertSameBits(TokenScores want, TokenScores got, String where) {
        assertArrayEquals(want.logprob(), got.logprob(), where + " logprob");
        assertArrayEquals(want.entropy(), got.entropy(), where + " entropy");
        assertArrayEquals(want.rank(), got.rank(), where + " rank");
        assertArrayEquals(want.argmax(), got.argmax(), where + " argmax");
        assertArrayEquals(want.argmaxLogprob(), got.argmaxLogprob(), where + " argmax logprob");
        assertArrayEquals(want.topIds(), got.topIds(), where + " top-k ids");
        assertArrayEquals(want.topLogprobs(), got.topLogprobs(), where + " top-k logprobs");
    }

    @Test
    void optionsReportTheStreamSizeAndRefuseSkippingTheCopy() {
        Model model = TestModels.tiny();
        try (Engine e = model.newEngine(perSeq(1024, 4))) {
            assertEquals(KvCache.PER_SEQUENCE, e.options().kvCache());
            assertEquals(1024, e.options().contextSize());
            assertEquals(256, e.options().sequenceContextSize());
            assertEquals(EngineOptions.LogitsCopy.KEEP, e.options().logitsCopy());
        }
        // llama.cpp rounds a stream up to 256 cells: 3 slots of 100 become 3 of 256
        try (Engine e = model.newEngine(perSeq(300, 3))) {
            assertEquals(768, e.options().contextSize());
            assertEquals(256, e.options().sequenceContextSize());
        }
        try (Engine e = model.newEngine(unified(1024, 4))) {
            assertEquals(KvCache.UNIFIED, e.options().kvCache());
            assertEquals(1024, e.options().sequenceContextSize());
        }
        assertThrows(IllegalArgumentException.class, () -> perSeq(1024, 4).withSkipLogitsCopy(true));
    }

    /**
     * Packed per-sequence scoring: bit for bit the reduction of its own logits rows, float64 parity
     * on them, and one sequence per call (and unified packing) within the decode-shape tolerance.
     */
    @Test
    void packedScoringEqualsOneAtATimeAndTheReference() {
        Model model = TestModels.tiny();
        List<Sequence> seqs = sequences(model);
        ScoreOptions options = new ScoreOptions(0.8, 3);
        int vocab = model.info().vocabSize();
        // small batches and micro-batches: sequences split across decodes, several per decode
        EngineOptions packedOptions = perSeq(8 * 256, 8).withBatchSize(96).withMicroBatchSize(48);
        try (Engine packed = model.newEngine(packedOptions); Engine one = model.newEngine(unified(512, 1));
                Engine unifiedPacked = model.newEngine(unified(2048, 8).withBatchSize(96).withMicroBatchSize(48))) {
            List<TokenScores> together = packed.score(seqs, options);
            List<TokenScores> together2 = packed.score(seqs, options); // again, on a used engine
            List<TokenScores> uni = unifiedPacked.score(seqs, options);
            float[] logits = packed.logits(seqs);
            int row = 0;
            for (int s = 0; s < seqs.size(); s++) {
                Sequence seq = seqs.get(s);
                TokenScores alone = one.score(List.of(seq), options).getFirst();
                TokenScores got = together.get(s);
                assertClose(alone, got, "sequence " + s + " (per-sequence packed vs one per call)");
                assertSameBits(got, together2.get(s), "sequence " + s + " (repeated)");
                assertClose(uni.get(s), got, "sequence " + s + " (per-sequence vs unified packed)");
                // the same native reduction run on the rows llama.cpp left in its output buffer
                int[] targets = Arrays.copyOfRange(seq.tokens(), seq.scoreBegin(), seq.scoreEnd());
                float[] rows = Arrays.copyOfRange(logits, row * vocab, (row + got.size()) * vocab);
                assertSameBits(FusedKernel.compute(rows, vocab, targets, options, 2), got, "sequence " + s + " (vs its own rows)");
                for (int i = 0; i < got.size(); i++, row++) {
                    int target = seq.tokens()[seq.scoreBegin() + i];
                    ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, row * vocab, vocab, target, options.temperature(), options.topK());
                    String where = "sequence " + s + ", position " + (seq.scoreBegin() + i);
                    Tol.assertKernel(ref.logprob(), got.logprob()[i], where + " logprob");
                    Tol.assertKernel(ref.entropy(), got.entropy()[i], where + " entropy");
                    assertEquals(ref.rank(), got.rank()[i], where + " rank");
                    assertEquals(ref.argmax(), got.argmax()[i], where + " argmax");
                    assertArrayEquals(ref.topIds(), Arrays.copyOfRange(got.topIds(), i * 3, i * 3 + 3), where + " top-k");
                }
            }
            assertTrue(row > 300, "scored " + row + " rows");
        }
    }

    /** Shared prompts: the prefix is decoded once and its stream copied; nothing changes. */
    @Test
    void sharedPromptsEqualUnsharedAndOneAtATime() {
        Model model = TestModels.tiny();
        int[] prompt = model.tokenize("<|im_start|>user\nAdd the numbers from one to ten.<|im_end|>\n<|im_start|>assistant\n", true, true);
        String[] answers = {"The sum is 55.", "Pair them: 1 + 10 = 11, five pairs, so 55.", "55", "I think it is fifty-five, since 10 * 11 / 2 = 55.",
            "Fifty-five.", "Add 1 to 10 to get 11, times 5."};
        List<Sequence> unshared = new ArrayList<>();
        List<Sequence> shared = new ArrayList<>();
        for (int i = 0; i < answers.length; i++) {
            int[] all = concat(prompt, model.tokenize(answers[i], false, false));
            unshared.add(Sequence.from(all, prompt.length));
            shared.add(Sequence.from(all, prompt.length).sharingPrefix(1, prompt.length));
        }
        int[] other = model.tokenize("Another prompt entirely, with its own answer.", true, false);
        unshared.add(Sequence.from(other, 3));
        shared.add(Sequence.from(other, 3));
        int[] inside = unshared.getFirst().tokens(); // shares less: scores inside the prompt
        unshared.add(Sequence.from(inside, prompt.length - 4));
        shared.add(Sequence.from(inside, prompt.length - 4).sharingPrefix(1, prompt.length));
        ScoreOptions options = ScoreOptions.defaults().withTopK(2);
        for (EngineOptions eo : List.of(perSeq(16 * 256, 16), perSeq(3 * 256, 3).withBatchSize(16).withMicroBatchSize(8))) {
            try (Engine engine = model.newEngine(eo); Engine one = model.newEngine(unified(512, 1))) {
                List<TokenScores> a = engine.score(unshared, options);
                List<TokenScores> b = engine.score(shared, options);
                for (int s = 0; s < a.size(); s++) {
                    TokenScores alone = one.score(List.of(unshared.get(s)), options).getFirst();
                    assertClose(alone, a.get(s), eo + " unshared " + s);
                    assertClose(alone, b.get(s), eo + " shared " + s);
                }
            }
        }
    }

    /** A sequence longer than a slot's stream is refused before anything is decoded. */
    @Test
    void aSequenceLongerThanItsStreamIsATypedError() {
        Model model = TestModels.tiny();
        int[] ok = new int[256];
        int[] tooLong = new int[257];
        for (int i = 0; i < tooLong.length; i++) {
            tooLong[i] = 5 + i % 100;
            if (i < ok.length) {
                ok[i] = tooLong[i];
            }
        }
        try (Engine engine = model.newEngine(perSeq(1024, 4))) {
            ContextOverflowException e = assertThrows(ContextOverflowException.class,
                    () -> engine.score(List.of(Sequence.of(ok), Sequence.of(tooLong)), ScoreOptions.defaults()));
            assertTrue(e.getMessage().contains("257") && e.getMessage().contains("256"), e.getMessage());
            // the engine stays usable, and 256 tokens fit exactly
            assertEquals(255, engine.score(Sequence.of(ok)).size());
        }
        try (SessionPool pool = new SessionPool(model, perSeq(512, 2), 0)) {
            assertThrows(ContextOverflowException.class, () -> pool.open(tooLong));
            SessionPool.Session s = pool.open(ok);
            pool.glimpse(List.of(s));
            assertThrows(ContextOverflowException.class, () -> pool.append(s, new int[] {7}));
            assertEquals(256, s.length());
            // the other slot has a stream of its own: a full one beside it still fits
            SessionPool.Session t = pool.open(ok);
            assertEquals(2, pool.glimpse(List.of(s, t)).size());
        }
    }

    private static void assertSameGlimpse(Glimpse want, Glimpse got, String where) {
        assertEquals(want.entropy(), got.entropy(), DECODE_SHAPE, where + " entropy");
        assertEquals(want.topKEntropy(), got.topKEntropy(), DECODE_SHAPE, where + " top-k entropy");
        assertEquals(want.token(), got.token(), where + " token");
        assertEquals(want.logprob(), got.logprob(), DECODE_SHAPE, where + " logprob");
        assertArrayEquals(want.topIds(), got.topIds(), where + " top ids");
    }

    /** Sessions: batched glimpses, appends and forks on per-sequence streams equal decoding from scratch. */
    @Test
    void sessionsAndForksEqualScratchAndTheReference() {
        Model model = TestModels.tiny();
        int k = 5;
        try (SessionPool pool = new SessionPool(model, perSeq(8 * 256, 8), k); SessionPool uni = new SessionPool(model, unified(2048, 8), k);
                Engine scratch = model.newEngine(unified(512, 1))) {
            List<SessionPool.Session> sessions = new ArrayList<>();
            List<SessionPool.Session> uniSessions = new ArrayList<>();
            List<int[]> contexts = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                int[] c = model.tokenize("Question number " + i + " is about " + "words ".repeat(1 + 3 * i) + ".", true, false);
                sessions.add(pool.open(c));
                uniSessions.add(uni.open(c));
                contexts.add(c);
            }
            for (int round = 0; round < 3; round++) {
                List<Glimpse> got = pool.glimpse(sessions);
                List<Glimpse> want = uni.glimpse(uniSessions);
                for (int i = 0; i < sessions.size(); i++) {
                    Glimpse g = got.get(i);
                    assertSameGlimpse(want.get(i), g, "round " + round + " session " + i + " (per-sequence vs unified)");
                    ReferenceKernel.Stats ref = NextTokenReference.of(scratch, contexts.get(i), k);
                    assertEquals(ref.entropy(), g.entropy(), 1e-4, "round " + round + " session " + i);
                    assertEquals(ref.argmax(), g.token());
                    assertEquals(ref.argmaxLogprob(), g.logprob(), 1e-4);
                    assertArrayEquals(ref.topIds(), g.topIds());
                    int[] add = model.tokenize(" step " + round + " of " + i + ",".repeat(i), false, false);
                    pool.append(sessions.get(i), add);
                    uni.append(uniSessions.get(i), add);
                    contexts.set(i, concat(contexts.get(i), add));
                }
                if (round == 1) { // fork two sessions mid-way, one with pending tokens
                    for (int i : new int[] {1, 3}) {
                        sessions.add(pool.fork(sessions.get(i)));
                        uniSessions.add(uni.fork(uniSessions.get(i)));
                        contexts.add(contexts.get(i).clone());
                    }
                }
            }
            List<Glimpse> got = pool.glimpse(sessions);
            for (int i = 0; i < sessions.size(); i++) {
                assertEquals(contexts.get(i).length, sessions.get(i).length());
                ReferenceKernel.Stats ref = NextTokenReference.of(scratch, contexts.get(i), k);
                assertEquals(ref.entropy(), got.get(i).entropy(), 1e-4, "session " + i + " at the end");
                assertEquals(ref.argmax(), got.get(i).token());
            }
            List<Glimpse> want = uni.glimpse(uniSessions);
            for (int i = 0; i < sessions.size(); i++) {
                assertSameGlimpse(want.get(i), got.get(i), "session " + i + " at the end (per-sequence vs unified)");
            }
        }
    }

    /** One append through the C ABI: the entropy after {@code tokens} enter {@code slot} at {@code pos}. */
    private static float decodeOne(Engine e, int slot, int pos, int[] tokens, Arena arena) {
        MemorySegment a = ps_append.allocate(arena);
        ps_append.seq_id(a, slot);
        ps_append.pos(a, pos);
        ps_append.tokens(a, arena.allocateFrom(ValueLayout.JAVA_INT, tokens));
        ps_append.n_tokens(a, tokens.length);
        MemorySegment stats = ps_token_stats.allocate(arena);
        try (var use = e.lifecycle().use()) {
            assertEquals(panscore_h.PS_OK(), panscore_h.ps_session_decode(use.handle(), a, 1, ScoreOptions.defaults().toNative(arena), stats,
                    MemorySegment.NULL, MemorySegment.NULL));
        }
        return ps_token_stats.entropy(stats);
    }

    /**
     * ps_session_copy of part of a slot across streams (llama.cpp copies whole streams only): the
     * copy holds exactly the first n tokens, and decoding on from there gives the reference.
     */
    @Test
    void aPartialCopyToAnotherStreamHoldsTheFirstTokensOnly() {
        Model model = TestModels.tiny();
        int[] ctx = model.tokenize(TestModels.TEXT, true, false);
        int[] more = model.tokenize(" and then something else entirely", false, false);
        int keep = 12;
        try (Engine e = model.newEngine(perSeq(4 * 256, 4)); Engine scratch = model.newEngine(unified(512, 1)); Arena arena = Arena.ofConfined()) {
            decodeOne(e, 0, 0, ctx, arena);
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            try (var use = e.lifecycle().use()) {
                assertEquals(panscore_h.PS_OK(), panscore_h.ps_session_copy(use.handle(), 0, 2, keep));
                assertEquals(panscore_h.PS_OK(), panscore_h.ps_session_length(use.handle(), 2, n));
            }
            assertEquals(keep, n.get(ValueLayout.JAVA_INT, 0));
            float got = decodeOne(e, 2, keep, more, arena);
            int[] context = concat(Arrays.copyOf(ctx, keep), more);
            assertEquals(NextTokenReference.of(scratch, context, 0).entropy(), got, 1e-4);
            // the source slot is untouched: appending to it gives the reference of its whole context
            float src = decodeOne(e, 0, ctx.length, more, arena);
            assertEquals(NextTokenReference.of(scratch, concat(ctx, more), 0).entropy(), src, 1e-4);
        }
    }

    /** Glimpses listed out of slot order (the batch is built in slot order) come back in input order. */
    @Test
    void glimpsesOutOfSlotOrderComeBackInInputOrder() {
        Model model = TestModels.tiny();
        try (SessionPool pool = new SessionPool(model, perSeq(4 * 256, 4), 3); SessionPool uni = new SessionPool(model, unified(1024, 4), 3)) {
            List<SessionPool.Session> mine = new ArrayList<>();
            List<SessionPool.Session> theirs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int[] c = model.tokenize("Session " + i + " says" + " more".repeat(2 * i + 1), true, false);
                mine.add(pool.open(c));
                theirs.add(uni.open(c));
            }
            List<SessionPool.Session> reversed = new ArrayList<>(mine.reversed());
            List<Glimpse> got = pool.glimpse(reversed);
            List<Glimpse> want = uni.glimpse(theirs);
            for (int i = 0; i < 4; i++) {
                assertSameGlimpse(want.get(3 - i), got.get(i), "reversed " + i);
            }
        }
    }

    /** Batched greedy generation of several streams on per-sequence KV gives what each gives alone. */
    @Test
    void batchedGenerationEqualsOneStreamAtATime() throws Exception {
        Model model = TestModels.tiny();
        String[] starts = {"The quick brown fox", "Numbers like 3.14159", "Entropy measures how", "a newline:", "then a second"};
        int[] lengths = {12, 20, 7, 16, 9};
        List<Generation> alone = new ArrayList<>();
        try (SessionPool pool = new SessionPool(model, unified(1024, 8), 0); Generator gen = new Generator(pool)) {
            for (int i = 0; i < starts.length; i++) {
                alone.add(gen.generate(pool.open(model.tokenize(starts[i], true, false)),
                        GenerateOptions.greedy(lengths[i]).withStopAtEndOfGeneration(false).withTopK(2)));
            }
        }
        try (SessionPool pool = new SessionPool(model, perSeq(8 * 256, 8), 0); Generator gen = new Generator(pool)) {
            List<Generator.Handle> handles = new ArrayList<>();
            for (int i = 0; i < starts.length; i++) {
                handles.add(gen.submit(pool.open(model.tokenize(starts[i], true, false)),
                        GenerateOptions.greedy(lengths[i]).withStopAtEndOfGeneration(false).withTopK(2), null));
            }
            for (int i = 0; i < starts.length; i++) {
                Generation together = handles.get(i).await();
                assertArrayEquals(alone.get(i).tokenIds(), together.tokenIds(), "generation " + i);
                for (int t = 0; t < lengths[i]; t++) {
                    GeneratedToken a = alone.get(i).tokens().get(t);
                    GeneratedToken b = together.tokens().get(t);
                    assertEquals(a.logprob(), b.logprob(), DECODE_SHAPE, "generation " + i + " token " + t);
                    assertEquals(a.entropy(), b.entropy(), DECODE_SHAPE, "generation " + i + " token " + t);
                    assertArrayEquals(a.topIds(), b.topIds());
                }
            }
            assertTrue(gen.steps() < Arrays.stream(lengths).sum(), "the streams shared decodes: " + gen.steps() + " steps");
        }
    }
}
