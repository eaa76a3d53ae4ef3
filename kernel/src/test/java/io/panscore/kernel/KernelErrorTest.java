package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Measures the fused kernel's error against the float64 reference on real llama.cpp logits (the
 * fixtures and the trained stories260K model) and on adversarial rows, prints it, and holds it
 * under {@link Tol#KERNEL}: the number docs/TESTING.md records and every kernel tolerance is 10x of.
 */
class KernelErrorTest {

    private record Worst(double logprob, double entropy, double argmax, double top) {
        Worst max(Worst o) {
            return new Worst(Math.max(logprob, o.logprob), Math.max(entropy, o.entropy), Math.max(argmax, o.argmax), Math.max(top, o.top));
        }

        double all() {
            return Math.max(Math.max(logprob, entropy), Math.max(argmax, top));
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "logprob %.2e, entropy %.2e, argmax logprob %.2e, top-k logprob %.2e", logprob, entropy, argmax, top);
        }
    }

    /** Compares rows field by field; returns the worst errors. Ranks, argmax and top-k ids must be exact. */
    private static Worst compare(float[] logits, int vocab, int[] targets, TokenScores got, int k) {
        Worst w = new Worst(0, 0, 0, 0);
        for (int r = 0; r < targets.length; r++) {
            ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, r * vocab, vocab, targets[r], 1.0, k);
            assertEquals(ref.rank(), got.rank()[r], "row " + r + " rank");
            assertEquals(ref.argmax(), got.argmax()[r], "row " + r + " argmax");
            double top = 0;
            for (int j = 0; j < k; j++) {
                assertEquals(ref.topIds()[j], got.topIds()[r * k + j], "row " + r + " top " + j);
                top = Math.max(top, Tol.error(ref.topLogprobs()[j], got.topLogprobs()[r * k + j]));
            }
            w = w.max(new Worst(Tol.error(ref.logprob(), got.logprob()[r]), Tol.error(ref.entropy(), got.entropy()[r]),
                    Tol.error(ref.argmaxLogprob(), got.argmaxLogprob()[r]), top));
        }
        return w;
    }

    private static Worst realLogits(Model model, String text) {
        int[] tokens = model.tokenize(text, true, false);
        int vocab = model.info().vocabSize();
        try (Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            Sequence seq = Sequence.of(tokens);
            float[] logits = engine.logits(List.of(seq));
            int[] targets = Arrays.copyOfRange(tokens, 1, tokens.length);
            TokenScores fromEngine = engine.score(List.of(seq), ScoreOptions.defaults().withTopK(8)).getFirst();
            TokenScores fromRows = FusedKernel.compute(logits, vocab, targets, ScoreOptions.defaults().withTopK(8), 2);
            return compare(logits, vocab, targets, fromEngine, 8).max(compare(logits, vocab, targets, fromRows, 8));
        }
    }

    @Test
    void measuredErrorOnRealLogits() {
        List<String> lines = new ArrayList<>();
        Worst tiny = realLogits(TestModels.tiny(), TestModels.TEXT);
        lines.add("tiny fixture (2,051 tokens): " + tiny);
        Worst qwen2 = realLogits(TestModels.qwen2(), TestModels.TEXT);
        lines.add("qwen2 fixture (151,936 tokens): " + qwen2);
        Worst worst = tiny.max(qwen2);
        Path stories = Tol.stories260K().orElse(null);
        if (stories != null) {
            try (Model m = Model.load(stories)) {
                Worst s = realLogits(m, "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.");
                lines.add("stories260K (trained, 512 tokens): " + s);
                worst = worst.max(s);
            }
        } else {
            lines.add("stories260K: not found beside the repository (../shared/models), skipped");
        }
        lines.forEach(l -> System.out.println("KernelErrorTest: " + l));
        assertTrue(worst.all() <= Tol.KERNEL, "kernel error " + worst + " above " + Tol.KERNEL);
    }

    @Test
    void measuredErrorOnAdversarialRows() {
        SplittableRandom rnd = new SplittableRandom(2026);
        int vocab = 40_000;
        int rows = 6;
        float[] logits = new float[rows * vocab];
        for (int v = 0; v < vocab; v++) {
            logits[v] = (float) (rnd.nextGaussian() * 3);                      // typical
            logits[vocab + v] = (float) (rnd.nextDouble() * 2e4 - 1e4);        // +-1e4 spread
            logits[2 * vocab + v] = (float) rnd.nextGaussian();                // peaked, below
            logits[3 * vocab + v] = (v % 7) * 0.5f;                             // ties
            logits[4 * vocab + v] = v % 3 == 0 ? Float.NEGATIVE_INFINITY : (float) rnd.nextGaussian(); // masked
            logits[5 * vocab + v] = (float) (rnd.nextGaussian() * 0.01);       // near-uniform: entropy ~ ln V
        }
        logits[2 * vocab + 1234] = 30f;
        int[] targets = {17, 54, 1234, 6, 1, 999};
        TokenScores got = FusedKernel.compute(logits, vocab, targets, ScoreOptions.defaults().withTopK(5), 2);
        Worst w = compare(logits, vocab, targets, got, 5);
        System.out.println("KernelErrorTest: adversarial rows (40,000 tokens): " + w);
        assertTrue(w.all() <= Tol.KERNEL, "kernel error " + w + " above " + Tol.KERNEL);
    }
}
