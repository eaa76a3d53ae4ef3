package io.panscore.bench;

import io.panscore.kernel.TokenScores;

/**
 * SPEC §1 statistics computed in plain Java from logits rows already copied into a {@code float[]}:
 * what a careful user without panscore would write. Single-threaded on purpose (that is the naive
 * path); no allocation per row; two passes per row:
 * <ol>
 *   <li>max and argmax (strict {@code >}, so the lowest id wins ties) and, when asked, the top k;</li>
 *   <li>S = sum exp(z - max) and S_d = sum exp(z - max) * (z - max) in double with {@link Math#exp},
 *       and the count of logits strictly above the target's.</li>
 * </ol>
 * Then logZ = max + log S, logprob = z[target] - logZ, entropy = log S - S_d / S, rank = 1 + count.
 * Unlike {@link io.panscore.kernel.ReferenceKernel} (the deliberately plain float64 yardstick, which
 * allocates a double[vocab] per row and takes three passes) this is meant to be fast-ish Java.
 */
public final class NaiveJavaStats {

    private NaiveJavaStats() {}

    /**
     * Scores {@code targets.length} rows of {@code vocab} logits, row r at {@code r * vocab}.
     *
     * @param invTemperature 1 / temperature
     * @param topK           0 for none
     * @throws IllegalStateException on a NaN logit or a row with no finite logit
     */
    public static TokenScores score(float[] logits, int vocab, int[] targets, float invTemperature, int topK) {
        int n = targets.length;
        float[] logprob = new float[n];
        float[] entropy = new float[n];
        int[] rank = new int[n];
        int[] argmax = new int[n];
        float[] argmaxLogprob = new float[n];
        int k = Math.min(topK, vocab);
        int[] topIds = new int[n * k];
        float[] topLogprobs = new float[n * k];
        float[] topZ = new float[k]; // per-row scratch, reused
        int[] topI = new int[k];
        for (int r = 0; r < n; r++) {
            int off = r * vocab;
            int target = targets[r];

            // pass 1: max, argmax, top-k (kept sorted best first; only a logit beating the k-th moves it)
            float max = Float.NEGATIVE_INFINITY;
            int best = -1;
            int kept = 0;
            for (int v = 0; v < vocab; v++) {
                float z = logits[off + v] * invTemperature;
                if (z > max) {
                    max = z;
                    best = v;
                }
                if (k > 0 && (kept < k || z > topZ[k - 1])) {
                    int i = kept < k ? kept++ : k - 1;
                    while (i > 0 && z > topZ[i - 1]) { // strict: an earlier (lower) id stays ahead on ties
                        topZ[i] = topZ[i - 1];
                        topI[i] = topI[i - 1];
                        i--;
                    }
                    topZ[i] = z;
                    topI[i] = v;
                }
            }
            if (best < 0) {
                throw new IllegalStateException("row " + r + " has no finite logit (or is all NaN)");
            }

            // pass 2: exp-sums and the rank count
            float zTarget = logits[off + target] * invTemperature;
            double s = 0;
            double sd = 0;
            int above = 0;
            for (int v = 0; v < vocab; v++) {
                float z = logits[off + v] * invTemperature;
                double d = Math.max((double) z - max, -1000.0); // -inf logits: e = 0 and e * d = 0, not NaN
                double e = Math.exp(d);
                s += e;
                sd += e * d;
                above += z > zTarget ? 1 : 0;
            }
            if (Double.isNaN(s)) { // a NaN logit anywhere poisons the sum
                throw new IllegalStateException("row " + r + " holds a NaN logit");
            }
            double logS = Math.log(s);
            double logZ = max + logS;
            logprob[r] = (float) (zTarget - logZ);
            entropy[r] = (float) (logS - sd / s);
            rank[r] = above + 1;
            argmax[r] = best;
            argmaxLogprob[r] = (float) -logS;
            for (int i = 0; i < k; i++) {
                topIds[r * k + i] = i < kept ? topI[i] : -1;
                topLogprobs[r * k + i] = i < kept ? (float) (topZ[i] - logZ) : Float.NEGATIVE_INFINITY;
            }
        }
        return new TokenScores(0, targets, logprob, entropy, rank, argmax, argmaxLogprob, k, topIds, topLogprobs);
    }
}
