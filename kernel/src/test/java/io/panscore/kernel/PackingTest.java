package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Packing many sequences into one decode, splitting long ones across decodes and micro-batches,
 * must not change any statistic.
 */
class PackingTest {

    @Test
    void packedEqualsOneAtATime() {
        Model model = TestModels.tiny();
        int[] all = model.tokenize(TestModels.TEXT + " " + TestModels.TEXT, true, false);
        List<Sequence> seqs = new ArrayList<>();
        for (int len = 2; len < all.length; len += 9) {
            seqs.add(new Sequence(Arrays.copyOfRange(all, all.length - len, all.length), 1, len));
        }
        EngineOptions packed = EngineOptions.defaults().withContextSize(512).withBatchSize(64).withMicroBatchSize(32).withMaxSequences(8);
        try (Engine many = model.newEngine(packed); Engine one = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            List<TokenScores> together = many.score(seqs, ScoreOptions.defaults().withTopK(2));
            for (int s = 0; s < seqs.size(); s++) {
                TokenScores alone = one.score(List.of(seqs.get(s)), ScoreOptions.defaults().withTopK(2)).getFirst();
                TokenScores got = together.get(s);
                for (int i = 0; i < alone.size(); i++) {
                    assertEquals(alone.logprob()[i], got.logprob()[i], 1e-4, "seq " + s + " pos " + i);
                    assertEquals(alone.entropy()[i], got.entropy()[i], 1e-4, "seq " + s + " pos " + i);
                }
                assertArrayEquals(alone.rank(), got.rank(), "seq " + s);
                assertArrayEquals(alone.argmax(), got.argmax(), "seq " + s);
                assertArrayEquals(alone.topIds(), got.topIds(), "seq " + s);
            }
        }
    }

    /** Fused scoring and the raw-logits path switch llama.cpp's output mode; alternating must work. */
    @Test
    void alternatingScoreAndLogitsOnOneEngine() {
        Model model = TestModels.tiny();
        int[] tokens = model.tokenize(TestModels.TEXT, true, false);
        // SKIP attaches llama.cpp backend samplers for scoring and detaches them for the raw logits
        try (Engine e = model.newEngine(EngineOptions.defaults().withContextSize(256).withSkipLogitsCopy(true))) {
            assertEquals(EngineOptions.LogitsCopy.SKIP, e.options().logitsCopy());
            TokenScores first = e.score(Sequence.of(tokens));
            for (int round = 0; round < 3; round++) {
                float[] logits = e.logits(List.of(Sequence.of(tokens)));
                assertEquals((tokens.length - 1) * model.info().vocabSize(), logits.length);
                e.forward(List.of(Sequence.of(tokens)));
                assertArrayEquals(first.logprob(), e.score(Sequence.of(tokens)).logprob());
            }
        }
    }

    @Test
    void repeatedCallsAreDeterministic() {
        Model model = TestModels.tiny();
        int[] tokens = model.tokenize(TestModels.TEXT, true, false);
        try (Engine e = model.newEngine(EngineOptions.defaults().withContextSize(256))) {
            TokenScores first = e.score(Sequence.of(tokens));
            TokenScores second = e.score(Sequence.of(tokens));
            assertArrayEquals(first.logprob(), second.logprob());
            assertArrayEquals(first.entropy(), second.entropy());
        }
    }

    /** N responses to one prompt, scored with the prompt decoded once, equal those scored separately. */
    @Test
    void sharedPromptsEqualUnshared() {
        Model model = TestModels.tiny();
        int[] prompt = model.tokenize("<|im_start|>user\nAdd the numbers from one to ten.<|im_end|>\n<|im_start|>assistant\n", true, true);
        String[] answers = {"The sum is 55.", "Pair them: 1 + 10 = 11, five pairs, so 55.", "55", "I think it is fifty-five, since 10 * 11 / 2 = 55."};
        List<Sequence> unshared = new ArrayList<>();
        List<Sequence> shared = new ArrayList<>();
        for (int i = 0; i < answers.length; i++) {
            int[] resp = model.tokenize(answers[i], false, false);
            int[] all = Arrays.copyOf(prompt, prompt.length + resp.length);
            System.arraycopy(resp, 0, all, prompt.length, resp.length);
            Sequence s = Sequence.from(all, prompt.length);
            unshared.add(s);
            shared.add(s.sharingPrefix(1, prompt.length));
        }
        // a second group, and a member that also scores inside the prompt (shares less)
        int[] other = model.tokenize("Another prompt entirely, with its own answer.", true, false);
        unshared.add(Sequence.from(other, 3));
        shared.add(Sequence.from(other, 3));
        int[] inside = unshared.getFirst().tokens();
        unshared.add(Sequence.from(inside, prompt.length - 4));
        shared.add(Sequence.from(inside, prompt.length - 4).sharingPrefix(1, prompt.length));
        for (EngineOptions options : List.of(EngineOptions.defaults().withContextSize(512),
                EngineOptions.defaults().withContextSize(512).withBatchSize(16).withMicroBatchSize(8).withMaxSequences(3))) {
            try (Engine engine = model.newEngine(options)) {
                List<TokenScores> a = engine.score(unshared, ScoreOptions.defaults().withTopK(2));
                List<TokenScores> b = engine.score(shared, ScoreOptions.defaults().withTopK(2));
                for (int s = 0; s < a.size(); s++) {
                    for (int i = 0; i < a.get(s).size(); i++) {
                        assertEquals(a.get(s).logprob()[i], b.get(s).logprob()[i], 1e-4, options + " seq " + s + " pos " + i);
                        assertEquals(a.get(s).entropy()[i], b.get(s).entropy()[i], 1e-4, options + " seq " + s + " pos " + i);
                    }
                    assertArrayEquals(a.get(s).rank(), b.get(s).rank());
                    assertArrayEquals(a.get(s).topIds(), b.get(s).topIds());
                }
            }
        }
    }

    /** Many prompt groups in a small KV cache: held prefixes must never fill it (a stall). */
    @Test
    void manyGroupsInASmallContext() {
        Model model = TestModels.tiny();
        List<Sequence> unshared = new ArrayList<>();
        List<Sequence> shared = new ArrayList<>();
        for (int m = 0; m < 3; m++) {
            for (int g = 0; g < 6; g++) { // members of different groups interleaved, as in real input
                int[] prompt = model.tokenize("Prompt " + g + " is a question with several words in it, asked once.", true, false);
                int[] resp = model.tokenize("Answer " + m + " to prompt " + g + ": " + "some words ".repeat(4 + 3 * m), false, false);
                int[] all = Arrays.copyOf(prompt, prompt.length + resp.length);
                System.arraycopy(resp, 0, all, prompt.length, resp.length);
                unshared.add(Sequence.from(all, prompt.length));
                shared.add(Sequence.from(all, prompt.length).sharingPrefix(g + 1, prompt.length));
            }
        }
        try (Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(160).withMaxSequences(16))) {
            List<TokenScores> a = engine.score(unshared, ScoreOptions.defaults());
            List<TokenScores> b = engine.score(shared, ScoreOptions.defaults());
            for (int s = 0; s < a.size(); s++) {
                for (int i = 0; i < a.get(s).size(); i++) {
                    assertEquals(a.get(s).logprob()[i], b.get(s).logprob()[i], 1e-4, "seq " + s + " pos " + i);
                }
            }
        }
    }

    /** A long ungrouped sequence between two members of a group must not block the group's last member. */
    @Test
    void longSequenceBetweenGroupMembers() {
        Model model = TestModels.tiny();
        int[] base = model.tokenize(TestModels.TEXT + " " + TestModels.TEXT, true, false);
        int[] a = Arrays.copyOf(base, 20);
        int[] c = Arrays.copyOf(base, 20);
        c[15] = (c[15] + 1) % model.info().vocabSize(); // same first 10 tokens, different after
        int[] b = Arrays.copyOfRange(base, 20, 84);      // 64 tokens: the whole context
        List<Sequence> seqs = List.of(new Sequence(a, 10, 20).sharingPrefix(1, 10), Sequence.of(b),
                new Sequence(c, 10, 20).sharingPrefix(1, 10));
        try (Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(64))) {
            List<TokenScores> shared = engine.score(seqs, ScoreOptions.defaults());
            List<Sequence> plain = List.of(new Sequence(a, 10, 20), Sequence.of(b), new Sequence(c, 10, 20));
            List<TokenScores> unshared = engine.score(plain, ScoreOptions.defaults());
            for (int s = 0; s < 3; s++) {
                for (int i = 0; i < shared.get(s).size(); i++) {
                    assertEquals(unshared.get(s).logprob()[i], shared.get(s).logprob()[i], 1e-4, "seq " + s + " pos " + i);
                }
            }
        }
    }

    @Test
    void groupMembersMustReallyShareTheirPrefix() {
        Model model = TestModels.tiny();
        int[] a = model.tokenize("same start, then one way", true, false);
        int[] b = model.tokenize("same start, then another", true, false);
        b[1] = (b[1] + 1) % model.info().vocabSize();
        try (Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(128))) {
            InvalidInputException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidInputException.class,
                    () -> engine.score(List.of(Sequence.of(a).sharingPrefix(7, 4), Sequence.of(b).sharingPrefix(7, 4)), ScoreOptions.defaults()));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("differs from sequence 0 at position 1"), e.getMessage());
        }
    }

    /**
     * The packer reorders its work (longest first) and, in the unified KV cache, keeps the attended
     * cell span of a decode within what its longest sequence spans alone (256 cells at least), so
     * short sequences wait beside long ones and long ones run alone: in both layouts, shuffled
     * lengths from 2 to 600 tokens (below and above one 256-cell span and the 128-token batch) and
     * a prompt group among them must score as one sequence per call does, and Engine.logits must
     * return its rows in input order.
     */
    @Test
    void shuffledLengthsAcrossTheKvSpanInBothLayouts() {
        Model model = TestModels.tiny();
        int[] all = model.tokenize((TestModels.TEXT + " ").repeat(8), true, false);
        org.junit.jupiter.api.Assumptions.assumeTrue(all.length > 610, "the test text is too short: " + all.length);
        java.util.Random rnd = new java.util.Random(18);
        List<Sequence> seqs = new ArrayList<>();
        int[] lens = {600, 2, 37, 300, 5, 255, 256, 257, 130, 12, 511, 64, 3, 200, 90, 8, 420, 33, 150, 9};
        for (int len : lens) {
            int off = rnd.nextInt(all.length - len);
            int[] t = Arrays.copyOfRange(all, off, off + len);
            seqs.add(len > 20 && rnd.nextBoolean() ? new Sequence(t, len / 2, len) : Sequence.of(t));
        }
        // two members of one prompt group, the call then keeps its input order
        int[] p1 = Arrays.copyOfRange(all, 0, 40);
        int[] p2 = Arrays.copyOf(p1, 40);
        p2[30] = (p2[30] + 1) % model.info().vocabSize();
        List<Sequence> grouped = new ArrayList<>(seqs);
        grouped.add(3, Sequence.from(p1, 20).sharingPrefix(5, 20));
        grouped.add(Sequence.from(p2, 20).sharingPrefix(5, 20));
        for (EngineOptions.KvCache kv : EngineOptions.KvCache.values()) {
            EngineOptions packed = EngineOptions.defaults().withContextSize(8 * 640).withBatchSize(128).withMicroBatchSize(64)
                    .withMaxSequences(8).withKvCache(kv);
            try (Engine many = model.newEngine(packed); Engine one = model.newEngine(EngineOptions.defaults().withContextSize(640))) {
                for (List<Sequence> call : List.of(seqs, grouped)) {
                    List<TokenScores> together = many.score(call, ScoreOptions.defaults().withTopK(2));
                    for (int s = 0; s < call.size(); s++) {
                        Sequence q = call.get(s);
                        Sequence plain = new Sequence(q.tokens(), q.scoreBegin(), q.scoreEnd());
                        TokenScores alone = one.score(List.of(plain), ScoreOptions.defaults().withTopK(2)).getFirst();
                        TokenScores got = together.get(s);
                        assertEquals(alone.size(), got.size(), kv + " seq " + s);
                        for (int i = 0; i < alone.size(); i++) {
                            assertEquals(alone.logprob()[i], got.logprob()[i], 1e-4, kv + " seq " + s + " pos " + i);
                            assertEquals(alone.entropy()[i], got.entropy()[i], 1e-4, kv + " seq " + s + " pos " + i);
                        }
                        assertArrayEquals(alone.rank(), got.rank(), kv + " seq " + s);
                        assertArrayEquals(alone.topIds(), got.topIds(), kv + " seq " + s);
                    }
                }
                List<Sequence> few = List.of(seqs.get(2), seqs.get(3), seqs.get(4)); // 37, 300, 5 tokens
                float[] rows = many.logits(few);
                int v = model.info().vocabSize();
                int at = 0;
                for (Sequence q : few) {
                    float[] alone = one.logits(List.of(q));
                    for (int i = 0; i < alone.length; i++) {
                        assertEquals(alone[i], rows[at + i], 1e-3, kv + " logits row " + (at + i) / v);
                    }
                    at += alone.length;
                }
                assertEquals(rows.length, at, kv + " logits rows");
            }
        }
    }
}
