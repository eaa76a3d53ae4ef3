package io.panscore.api.router;

/**
 * Which entropy GlimpRouter compares with its threshold (SPEC §2).
 */
public enum EntropyMode {
    /** Entropy over the full vocabulary: what the paper defines. The default. */
    EXACT,
    /** Entropy of the top-k probabilities renormalised to sum to 1 (k = 20): the authors' released code. */
    TOP_K;

    /** The name the CLI and the HTTP sidecar use: "exact" or "top-k". */
    public String label() {
        return this == EXACT ? "exact" : "top-k";
    }
}
