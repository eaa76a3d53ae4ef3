package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The native fused statistics against the float64 {@link ReferenceKernel} on the raw logits
 * llama.cpp produced for the same positions (copied out through {@link Engine#logits}).
 */
class ReferenceParityTest {

    /** Several sequences of different lengths and scoring ranges, scored in one call. */
    private static List<Sequence> sequences(Model model) {
        int[] all = model.tokenize(TestModels.TEXT, true, false);
        List<Sequence> seqs = new ArrayList<>();
        seqs.add(Sequence.of(all));
        seqs.add(Sequence.of(Arrays.copyOf(all, 7)));
        seqs.add(new Sequence(Arrays.copyOfRange(all, 3, 30), 5, 20));
        seqs.add(Sequence.from(model.tokenize("Short one.", false, false), 1));
        seqs.add(new Sequence(Arrays.copyOf(all, 2), 1, 2));
        return seqs;
    }

    private static void assertParity(Model model, EngineOptions engineOptions, ScoreOptions options, int expectedMinRows) {
        List<Sequence> seqs = sequences(model);
        int vocab = model.info().vocabSize();
        try (Engine engine = model.newEngine(engineOptions)) {
            List<TokenScores> fused = engine.score(seqs, options);
            float[] logits = engine.logits(seqs);
            int row = 0;
            double maxEntropy = 0;
            double minEntropy = Double.MAX_VALUE;
            for (int s = 0; s < seqs.size(); s++) {
                Sequence seq = seqs.get(s);
                TokenScores got = fused.get(s);
                assertEquals(seq.scoredCount(), got.size());
                for (int i = 0; i < got.size(); i++, row++) {
                    int target = seq.tokens()[seq.scoreBegin() + i];
                    ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, row * vocab, vocab, target,
                            options.temperature(), options.topK());
                    String where = "sequence " + s + ", position " + (seq.scoreBegin() + i);
                    assertEquals(target, got.target()[i], where);
                    Tol.assertKernel(ref.logprob(), got.logprob()[i], where + " logprob");
                    Tol.assertKernel(ref.entropy(), got.entropy()[i], where + " entropy");
                    assertEquals(ref.rank(), got.rank()[i], where + " rank");
                    assertEquals(ref.argmax(), got.argmax()[i], where + " argmax");
                    Tol.assertKernel(ref.argmaxLogprob(), got.argmaxLogprob()[i], where + " argmax logprob");
                    int k = options.topK();
                    assertArrayEquals(ref.topIds(), Arrays.copyOfRange(got.topIds(), i * k, i * k + k), where + " top-k ids");
                    for (int j = 0; j < k; j++) {
                        Tol.assertKernel(ref.topLogprobs()[j], got.topLogprobs()[i * k + j], where + " top-k logprob " + j);
                    }
                    maxEntropy = Math.max(maxEntropy, ref.entropy());
                    minEntropy = Math.min(minEntropy, ref.entropy());
                }
            }
            assertTrue(row >= expectedMinRows, "scored " + row + " rows");
            // the fixture must give varied, non-uniform distributions, or this test could not tell much apart
            assertTrue(minEntropy < Math.log(vocab) - 1 && maxEntropy - minEntropy > 0.5 && maxEntropy < Math.log(vocab),
                    "entropy range [" + minEntropy + ", " + maxEntropy + "] of ln V = " + Math.log(vocab));
        }
    }

    @Test
    void smallVocabularyModel() {
        assertParity(TestModels.tiny(), EngineOptions.defaults().withThreads(2), ScoreOptions.defaults(), 40);
    }

    @Test
    void smallVocabularyWithTopKAndTemperature() {
        assertParity(TestModels.tiny(), EngineOptions.defaults().withThreads(2), new ScoreOptions(0.7, 5), 40);
    }

    @Test
    void smallMicroBatchesAndFewSequencesPerDecode() {
        // forces sequences split across decodes and several micro-batches per decode
        assertParity(TestModels.tiny(), EngineOptions.defaults().withBatchSize(16).withMicroBatchSize(8).withMaxSequences(2),
                ScoreOptions.defaults().withTopK(3), 40);
    }

    @Test
    void moreSequenceSlotsThanTokensPerBatch() {
        // n_seq_max 16 > n_batch 4: llama.cpp reserves an output row per slot (it used to abort the JVM)
        assertParity(TestModels.tiny(), EngineOptions.defaults().withBatchSize(4).withMicroBatchSize(4).withMaxSequences(16),
                ScoreOptions.defaults().withTopK(2), 40);
    }

    @Test
    void withoutSkippingLlamaCppsLogitsCopy() {
        assertParity(TestModels.tiny(), EngineOptions.defaults().withSkipLogitsCopy(false), ScoreOptions.defaults(), 40);
    }

    @Test
    void skippingLlamaCppsLogitsCopy() {
        assertParity(TestModels.tiny(), EngineOptions.defaults().withSkipLogitsCopy(true), ScoreOptions.defaults().withTopK(3), 40);
    }

    @Test
    void fullQwen2Vocabulary() {
        assertParity(TestModels.qwen2(), EngineOptions.defaults().withContextSize(256).withBatchSize(64),
                ScoreOptions.defaults().withTopK(4), 40);
    }
}
