package io.panscore.kernel;

/**
 * The model's distribution of the next token after a session's context, summarised (SPEC §2).
 *
 * @param entropy     full-vocabulary entropy, nats
 * @param topKEntropy entropy of the top-k probabilities renormalised to sum to 1 (the GlimpRouter
 *                    authors' released code, k = 20), nats; NaN when k was 0
 * @param token       the greedy next token
 * @param logprob     its log-prob, nats
 * @param topIds      the k most likely next tokens, best first
 * @param topLogprobs their log-probs
 */
public record Glimpse(double entropy, double topKEntropy, int token, double logprob, int[] topIds, float[] topLogprobs) {

    /** Entropy of the top-k probabilities renormalised to sum to 1. */
    public static double renormalisedEntropy(float[] logprobs, int from, int k) {
        if (k == 0) {
            return Double.NaN;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < k; i++) {
            max = Math.max(max, logprobs[from + i]);
        }
        double z = 0;
        for (int i = 0; i < k; i++) {
            z += Math.exp(logprobs[from + i] - max);
        }
        double logZ = max + Math.log(z);
        double h = 0;
        for (int i = 0; i < k; i++) {
            double lp = logprobs[from + i] - logZ;
            if (lp > Double.NEGATIVE_INFINITY) {
                h -= Math.exp(lp) * lp;
            }
        }
        return h;
    }
}
