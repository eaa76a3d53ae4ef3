package io.panscore.api.router;

/**
 * What GlimpRouter decided for one step: whether the large model writes it, and why.
 *
 * @param route        which model should write the step
 * @param entropy      the entropy compared with the threshold (per {@code mode}), nats
 * @param exactEntropy full-vocabulary entropy, nats
 * @param topKEntropy  top-k renormalised entropy, nats
 * @param threshold    τ: LARGE when entropy ≥ τ
 * @param mode         which entropy was compared
 * @param token        the greedy probe token (thrown away: the chosen model regenerates the step)
 * @param tokenText    its text
 * @param logprob      its log-prob, nats
 */
public record Decision(Route route, double entropy, double exactEntropy, double topKEntropy, double threshold, EntropyMode mode, int token,
        String tokenText, double logprob) {

    /** The model a step goes to. */
    public enum Route { SMALL, LARGE }

    public boolean large() {
        return route == Route.LARGE;
    }
}
