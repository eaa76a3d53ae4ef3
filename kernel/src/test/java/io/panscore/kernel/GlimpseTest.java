package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The top-k renormalised entropy on hand-computed cases (the GlimpRouter authors' entropy, SPEC §2). */
class GlimpseTest {

    @Test
    void renormalisesBeforeTakingTheEntropy() {
        // p = 0.5 and 0.25 renormalise to 2/3 and 1/3: H = ln 3 - (2/3) ln 2
        float[] two = {(float) Math.log(0.5), (float) Math.log(0.25)};
        assertEquals(Math.log(3) - 2.0 / 3 * Math.log(2), Glimpse.renormalisedEntropy(two, 0, 2), 1e-7);
        // without renormalising it would be -(0.5 ln 0.5 + 0.25 ln 0.25) = 0.6931...; with it 0.6365...
        assertEquals(0.6365141682948128, Glimpse.renormalisedEntropy(two, 0, 2), 1e-7);
        // four equal log-probs of any size give ln 4
        float[] four = {-7f, -7f, -7f, -7f, 99f};
        assertEquals(Math.log(4), Glimpse.renormalisedEntropy(four, 0, 4), 1e-7);
        // an offset into a longer array, and -inf entries (fewer finite tokens than k) count for nothing
        float[] padded = {5f, -1f, -1f, Float.NEGATIVE_INFINITY};
        assertEquals(Math.log(2), Glimpse.renormalisedEntropy(padded, 1, 3), 1e-7);
        // one token: no uncertainty
        assertEquals(0.0, Glimpse.renormalisedEntropy(new float[] {-3f}, 0, 1), 0);
        assertTrue(Double.isNaN(Glimpse.renormalisedEntropy(new float[0], 0, 0)));
    }

    @Test
    void matchesTheFloat64Formula() {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
        for (int trial = 0; trial < 50; trial++) {
            int k = 1 + rnd.nextInt(20);
            float[] lps = new float[k];
            double[] d = new double[k];
            double lp = -rnd.nextDouble();
            for (int i = 0; i < k; i++) {
                lp -= rnd.nextDouble() * 3;
                lps[i] = (float) lp;
                d[i] = lps[i];
            }
            assertEquals(Tol.renormalisedEntropy(d), Glimpse.renormalisedEntropy(lps, 0, k), 1e-9, "trial " + trial);
        }
    }
}
