package io.panscore.api.router;

import java.util.Arrays;

/**
 * A threshold chosen from sample contexts so that about {@code targetLargeFraction} of steps go to
 * the large model, and the entropy distribution it came from.
 *
 * @param threshold           τ
 * @param targetLargeFraction what was asked for
 * @param largeFraction       the fraction of the samples at or above τ
 * @param entropies           the sample entropies, sorted
 */
public record Calibration(double threshold, double targetLargeFraction, double largeFraction, double[] entropies) {

    /** Picks τ as the (1 − fraction) quantile of the entropies. */
    public static Calibration of(double[] entropies, double targetLargeFraction) {
        if (entropies.length == 0) {
            throw new IllegalArgumentException("no sample entropies to calibrate on");
        }
        if (!(targetLargeFraction >= 0 && targetLargeFraction <= 1)) {
            throw new IllegalArgumentException("the target fraction must be in [0, 1], got " + targetLargeFraction);
        }
        double[] sorted = entropies.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        int large = (int) Math.round(targetLargeFraction * n);
        double threshold = large == 0 ? Math.nextUp(sorted[n - 1]) : sorted[n - large];
        int at = 0;
        for (double e : sorted) {
            at += e >= threshold ? 1 : 0;
        }
        return new Calibration(threshold, targetLargeFraction, (double) at / n, sorted);
    }

    /** The q-quantile (0..1) of the sample entropies, nearest rank. */
    public double quantile(double q) {
        int i = (int) Math.min(entropies.length - 1, Math.max(0, Math.ceil(q * entropies.length) - 1));
        return entropies[i];
    }

    public double mean() {
        return Arrays.stream(entropies).average().orElse(Double.NaN);
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "tau %.4f -> %.1f%% large (asked %.1f%%); entropy over %d samples: min %.3f p10 %.3f p25 %.3f p50 %.3f p75 %.3f p90 %.3f max %.3f mean %.3f",
                threshold, 100 * largeFraction, 100 * targetLargeFraction, entropies.length, entropies[0], quantile(0.1), quantile(0.25), quantile(0.5),
                quantile(0.75), quantile(0.9), entropies[entropies.length - 1], mean());
    }
}
