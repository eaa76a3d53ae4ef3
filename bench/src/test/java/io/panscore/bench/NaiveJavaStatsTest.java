package io.panscore.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.panscore.kernel.FusedKernel;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.TokenScores;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The naive baseline must compute the same statistics as the product, or the ratio means nothing. */
class NaiveJavaStatsTest {

    private static final int VOCAB = 5000;
    private static final int ROWS = 8;

    private static float[] rows(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] logits = new float[VOCAB * ROWS];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (3 * random.nextGaussian());
        }
        logits[3 * VOCAB + 17] = Float.NEGATIVE_INFINITY; // a masked logit
        logits[5 * VOCAB + 100] = logits[5 * VOCAB + 40] = 40f; // a tie for argmax: the lower id wins
        return logits;
    }

    private static int[] targets() {
        int[] t = new int[ROWS];
        for (int r = 0; r < ROWS; r++) {
            t[r] = (r * 997) % VOCAB;
        }
        t[4] = 17;
        return t;
    }

    @Test
    void matchesTheFloat64Reference() {
        float[] logits = rows(1);
        int[] targets = targets();
        for (double temperature : new double[] {1.0, 0.7}) {
            TokenScores naive = NaiveJavaStats.score(logits, VOCAB, targets, (float) (1 / temperature), 5);
            for (int r = 0; r < ROWS; r++) {
                ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, r * VOCAB, VOCAB, targets[r], temperature, 5);
                assertEquals(ref.logprob(), naive.logprob()[r], 1e-4, "logprob row " + r);
                assertEquals(ref.entropy(), naive.entropy()[r], 1e-4, "entropy row " + r);
                assertEquals(ref.rank(), naive.rank()[r], "rank row " + r);
                assertEquals(ref.argmax(), naive.argmax()[r], "argmax row " + r);
                assertEquals(ref.argmaxLogprob(), naive.argmaxLogprob()[r], 1e-4, "argmax logprob row " + r);
                for (int i = 0; i < 5; i++) {
                    assertEquals(ref.topIds()[i], naive.topIds()[r * 5 + i], "top id " + i + " row " + r);
                    assertEquals(ref.topLogprobs()[i], naive.topLogprobs()[r * 5 + i], 1e-4, "top lp " + i + " row " + r);
                }
            }
        }
    }

    @Test
    void matchesTheFusedKernel() {
        float[] logits = rows(2);
        int[] targets = targets();
        TokenScores naive = NaiveJavaStats.score(logits, VOCAB, targets, 1f, 3);
        TokenScores fused = FusedKernel.compute(logits, VOCAB, targets, ScoreOptions.defaults().withTopK(3), 2);
        assertArrayEquals(fused.rank(), naive.rank());
        assertArrayEquals(fused.argmax(), naive.argmax());
        assertArrayEquals(fused.topIds(), naive.topIds());
        assertArrayEquals(fused.logprob(), naive.logprob(), 1e-4f);
        assertArrayEquals(fused.entropy(), naive.entropy(), 1e-4f);
    }

    @Test
    void rejectsNaN() {
        float[] logits = rows(3);
        logits[2 * VOCAB + 9] = Float.NaN;
        assertThrows(IllegalStateException.class, () -> NaiveJavaStats.score(logits, VOCAB, targets(), 1f, 0));
    }
}
