package io.panscore.api.router;

/**
 * Which entropy GlimpRouter compares with its threshold (SPEC §2).
 */
public enum EntropyMode {
    /**
     * Entropy over the full vocabulary: what the paper defines. It is larger than the top-k one
     * (the tail adds to it), so τ = 1.0 sends far more steps to the large model: take τ from
     * {@link GlimpRouter#calibrate} for a target fraction of large steps.
     */
    EXACT,
    /**
     * Entropy of the top-k probabilities renormalised to sum to 1 (k = 20, natural log, T = 1):
     * the authors' released code, which reads the top-20 log-probs of a one-token probe. The
     * default, with τ = 1.0 (their value; at most ln 20 ≈ 3.0).
     */
    TOP_K;

    /** The name the CLI and the HTTP sidecar use: "exact" or "top-k". */
    public String label() {
        return this == EXACT ? "exact" : "top-k";
    }
}
