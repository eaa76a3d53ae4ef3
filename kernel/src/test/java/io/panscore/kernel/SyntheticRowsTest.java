package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The native kernel against the float64 reference on rows built to break naive implementations. */
class SyntheticRowsTest {

    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /** Reduces each row natively and compares with the reference, field by field. */
    private static void check(float[][] rows, int[] targets, ScoreOptions options) {
        int vocab = rows[0].length;
        float[] flat = new float[rows.length * vocab];
        for (int r = 0; r < rows.length; r++) {
            System.arraycopy(rows[r], 0, flat, r * vocab, vocab);
        }
        TokenScores got = FusedKernel.compute(flat, vocab, targets, options, 2);
        for (int r = 0; r < rows.length; r++) {
            ReferenceKernel.Stats ref = ReferenceKernel.stats(flat, r * vocab, vocab, targets[r], options.temperature(), options.topK());
            String where = "row " + r;
            Tol.assertKernel(ref.logprob(), got.logprob()[r], where + " logprob");
            Tol.assertKernel(ref.entropy(), got.entropy()[r], where + " entropy");
            assertEquals(ref.rank(), got.rank()[r], where + " rank");
            assertEquals(ref.argmax(), got.argmax()[r], where + " argmax");
            Tol.assertKernel(ref.argmaxLogprob(), got.argmaxLogprob()[r], where + " argmax logprob");
            int k = options.topK();
            assertArrayEquals(ref.topIds(), Arrays.copyOfRange(got.topIds(), r * k, r * k + k), where + " top ids");
            for (int j = 0; j < k; j++) {
                Tol.assertKernel(ref.topLogprobs()[j], got.topLogprobs()[r * k + j], where + " top-k logprob " + j);
            }
        }
    }

    private static float[] filled(int vocab, float value) {
        float[] row = new float[vocab];
        Arrays.fill(row, value);
        return row;
    }

    @Test
    void allTiedRowIsUniform() {
        float[] row = filled(5000, 3.25f);
        check(new float[][] {row}, new int[] {4321}, ScoreOptions.defaults().withTopK(3));
        TokenScores s = FusedKernel.compute(row, 5000, new int[] {4321}, ScoreOptions.defaults(), 1);
        Tol.assertKernel(Math.log(5000), s.entropy()[0], "uniform entropy = ln 5000");
        assertEquals(1, s.rank()[0], "ties get the better rank");
        assertEquals(0, s.argmax()[0], "lowest id wins ties");
    }

    @Test
    void tiesAroundTheTarget() {
        float[] row = new float[3000];
        for (int v = 0; v < row.length; v++) {
            row[v] = (v % 7) * 0.5f; // many exact ties at every level
        }
        check(new float[][] {row, row, row}, new int[] {6, 13, 1}, ScoreOptions.defaults().withTopK(10));
    }

    @Test
    void hugeSpreads() {
        SplittableRandom rnd = new SplittableRandom(7);
        float[] a = new float[40000];
        float[] b = new float[40000];
        for (int v = 0; v < a.length; v++) {
            a[v] = (float) (rnd.nextDouble() * 2e4 - 1e4); // ±1e4
            b[v] = (float) (rnd.nextGaussian() * 3);
        }
        b[12345] = 1e4f;   // one dominant logit: entropy ~0, must not cancel catastrophically
        b[54] = -1e4f;
        check(new float[][] {a, b}, new int[] {17, 54}, ScoreOptions.defaults().withTopK(4));
        TokenScores s = FusedKernel.compute(b, b.length, new int[] {12345}, ScoreOptions.defaults(), 1);
        assertEquals(0.0, s.entropy()[0], 1e-6);
        assertEquals(0.0, s.logprob()[0], 1e-6);
    }

    @Test
    void maskedEntriesContributeNothing() {
        SplittableRandom rnd = new SplittableRandom(3);
        float[] row = new float[10000];
        for (int v = 0; v < row.length; v++) {
            row[v] = v % 3 == 0 ? NEG_INF : (float) rnd.nextGaussian();
        }
        Arrays.fill(row, 2048, 4096, NEG_INF); // a whole masked block
        check(new float[][] {row}, new int[] {1}, ScoreOptions.defaults().withTopK(5));
    }

    @Test
    void singleFiniteEntry() {
        float[] row = filled(7000, NEG_INF);
        row[6999] = -3.5f;
        TokenScores s = FusedKernel.compute(row, row.length, new int[] {6999}, ScoreOptions.defaults().withTopK(2), 1);
        assertEquals(0.0, s.logprob()[0], 0.0);
        assertEquals(0.0, s.entropy()[0], 0.0);
        assertEquals(1, s.rank()[0]);
        assertEquals(6999, s.argmax()[0]);
        assertEquals(-1, s.topIds()[1], "no second finite entry");
        TokenScores masked = FusedKernel.compute(row, row.length, new int[] {5}, ScoreOptions.defaults(), 1);
        assertEquals(Float.NEGATIVE_INFINITY, masked.logprob()[0], "a masked target has probability 0");
        assertEquals(2, masked.rank()[0]);
    }

    @Test
    void temperatureScalesLogits() {
        SplittableRandom rnd = new SplittableRandom(11);
        float[] row = new float[2500];
        for (int v = 0; v < row.length; v++) {
            row[v] = (float) (rnd.nextGaussian() * 4);
        }
        check(new float[][] {row}, new int[] {99}, new ScoreOptions(0.6, 3));
        check(new float[][] {row}, new int[] {99}, new ScoreOptions(2.5, 3));
    }

    @Test
    void nanIsAnErrorNeverAResult() {
        float[] row = filled(3000, 0.5f);
        row[2999] = Float.NaN;
        NanLogitsException e = assertThrows(NanLogitsException.class,
                () -> FusedKernel.compute(row, row.length, new int[] {0}, ScoreOptions.defaults(), 1));
        assertTrue(e.getMessage().contains("row 0"), e.getMessage());
        float[] target = filled(10, 0.5f);
        target[3] = Float.NaN;
        assertThrows(NanLogitsException.class, () -> FusedKernel.compute(target, 10, new int[] {3}, ScoreOptions.defaults(), 1));
        float[] plusInf = filled(10, 0.5f);
        plusInf[7] = Float.POSITIVE_INFINITY;
        assertThrows(NanLogitsException.class, () -> FusedKernel.compute(plusInf, 10, new int[] {3}, ScoreOptions.defaults(), 1));
        assertThrows(NanLogitsException.class, () -> FusedKernel.compute(plusInf, 10, new int[] {7}, ScoreOptions.defaults(), 1));
        float[] masked = filled(10, NEG_INF);
        assertThrows(NanLogitsException.class, () -> FusedKernel.compute(masked, 10, new int[] {3}, ScoreOptions.defaults(), 1));
    }

    @Test
    void outOfRangeTargetIsRejected() {
        assertThrows(TokenOutOfRangeException.class,
                () -> FusedKernel.compute(new float[10], 10, new int[] {10}, ScoreOptions.defaults(), 1));
        assertThrows(TokenOutOfRangeException.class,
                () -> FusedKernel.compute(new float[10], 10, new int[] {-1}, ScoreOptions.defaults(), 1));
    }
}
