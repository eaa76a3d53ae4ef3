package io.panscore.kernel;

/**
 * The statistics of one sequence's scored positions (SPEC §1), as parallel arrays: entry i is
 * position {@code scoreBegin + i}. Log-probs and entropies are in nats.
 *
 * @param scoreBegin     the first scored position
 * @param target         the token that actually follows at each position
 * @param logprob        log p(target)
 * @param entropy        full-vocabulary entropy of the predicted distribution
 * @param rank           1 + number of tokens with a strictly higher logit than the target
 * @param argmax         the most likely token (lowest id on ties)
 * @param argmaxLogprob  its log-prob
 * @param topK           k, the number of top entries per position (0 when none were asked for)
 * @param topIds         {@code size() * topK} ids, position-major, best first
 * @param topLogprobs    their log-probs
 */
public record TokenScores(int scoreBegin, int[] target, float[] logprob, float[] entropy, int[] rank, int[] argmax,
        float[] argmaxLogprob, int topK, int[] topIds, float[] topLogprobs) {

    /** Number of scored positions. */
    public int size() {
        return target.length;
    }

    /** Surprisal of position i: -logprob, in nats. */
    public double surprisal(int i) {
        return -logprob[i];
    }

    /** Sum of log-probs over all scored positions. */
    public double totalLogprob() {
        double sum = 0;
        for (float lp : logprob) {
            sum += lp;
        }
        return sum;
    }

    /** exp(mean surprisal). */
    public double perplexity() {
        return Math.exp(-totalLogprob() / size());
    }

    /** The values, not the arrays' identities: at most the first 8 positions of each array are shown. */
    @Override
    public String toString() {
        return "TokenScores[scoreBegin=" + scoreBegin + ", size=" + size() + ", target=" + head(target) + ", logprob=" + head(logprob)
                + ", entropy=" + head(entropy) + ", rank=" + head(rank) + ", argmax=" + head(argmax) + ", argmaxLogprob=" + head(argmaxLogprob)
                + ", topK=" + topK + (topK > 0 ? ", topIds=" + head(topIds) + ", topLogprobs=" + head(topLogprobs) : "") + "]";
    }

    private static final int SHOWN = 8;

    private static String head(int[] a) {
        return a == null ? "null" : java.util.Arrays.toString(java.util.Arrays.copyOf(a, Math.min(a.length, SHOWN))).replaceFirst("]$", a.length > SHOWN ? ", ... (" + a.length + ")]" : "]");
    }

    private static String head(float[] a) {
        return a == null ? "null" : java.util.Arrays.toString(java.util.Arrays.copyOf(a, Math.min(a.length, SHOWN))).replaceFirst("]$", a.length > SHOWN ? ", ... (" + a.length + ")]" : "]");
    }
}
