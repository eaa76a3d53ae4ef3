package io.panscore.api.prm;

/**
 * How a response's step rewards become one number for best-of-N (SPEC §4): the paper takes the
 * minimum step reward; EurusPRM's second stage the cumulative reward (LAST over q).
 */
public enum Aggregation {
    MIN, MEAN, SUM, LAST;

    /** Which per-step series is aggregated: the step rewards r^t or the cumulative values q^t. */
    public enum Over { R, Q }

    public double apply(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        return switch (this) {
            case MIN -> java.util.Arrays.stream(values).min().orElseThrow();
            case MEAN -> java.util.Arrays.stream(values).average().orElseThrow();
            case SUM -> java.util.Arrays.stream(values).sum();
            case LAST -> values[values.length - 1];
        };
    }
}
