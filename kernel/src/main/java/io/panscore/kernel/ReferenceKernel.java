package io.panscore.kernel;

/**
 * SPEC §1 in plain float64 Java, written for clarity rather than speed: the yardstick every native
 * statistic is tested against. Two passes over the row (max, then sums), no tricks.
 */
public final class ReferenceKernel {

    private ReferenceKernel() {}

    /**
     * The statistics of one position.
     *
     * @param topIds      the k best ids, best first (ties: lower id first)
     * @param topLogprobs their log-probs
     */
    public record Stats(double logprob, double entropy, int rank, int argmax, double argmaxLogprob, int[] topIds,
            double[] topLogprobs) {}

    /**
     * Computes the statistics of row {@code logits[offset .. offset + vocab)} for target {@code target}.
     *
     * @throws NanLogitsException when the row holds NaN or no finite logit
     */
    public static Stats stats(float[] logits, int offset, int vocab, int target, double temperature, int topK) {
        if (target < 0 || target >= vocab) {
            throw new TokenOutOfRangeException(0, "target " + target + " outside [0, " + vocab + ")");
        }
        double[] z = new double[vocab];
        double max = Double.NEGATIVE_INFINITY;
        int argmax = -1;
        for (int v = 0; v < vocab; v++) {
            z[v] = logits[offset + v] / temperature;
            if (Double.isNaN(z[v])) {
                throw new NanLogitsException(0, "NaN logit at id " + v);
            }
            if (z[v] > max) { // strict: the lowest id wins ties
                max = z[v];
                argmax = v;
            }
        }
        if (max == Double.NEGATIVE_INFINITY) {
            throw new NanLogitsException(0, "no finite logit");
        }
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            sum += Math.exp(z[v] - max);
        }
        double logZ = max + Math.log(sum);
        double entropy = 0;
        int above = 0;
        for (int v = 0; v < vocab; v++) {
            double lp = z[v] - logZ;
            double p = Math.exp(lp);
            if (p > 0) {
                entropy -= p * lp;
            }
            if (z[v] > z[target]) {
                above++;
            }
        }
        int k = Math.min(topK, vocab);
        int[] ids = new int[k];
        double[] lps = new double[k];
        boolean[] taken = new boolean[vocab];
        for (int i = 0; i < k; i++) { // selection: O(k * vocab), fine for a reference
            int best = -1;
            for (int v = 0; v < vocab; v++) {
                if (!taken[v] && (best < 0 || z[v] > z[best])) {
                    best = v;
                }
            }
            taken[best] = true;
            ids[i] = best;
            lps[i] = z[best] - logZ;
        }
        return new Stats(z[target] - logZ, entropy, above + 1, argmax, max - logZ, ids, lps);
    }

    /**
     * Entropy of the given log-probs' probabilities renormalised to sum to 1, in float64
     * (GlimpRouter's top-k mode), written independently of {@code Glimpse}: the tests' reference.
     */
    public static double renormalisedEntropy(double[] logprobs) {
        double z = 0;
        for (double lp : logprobs) {
            z += Math.exp(lp);
        }
        double h = 0;
        for (double lp : logprobs) {
            double p = Math.exp(lp) / z;
            if (p > 0) {
                h -= p * Math.log(p);
            }
        }
        return h;
    }
}
