package io.panscore.api.report;

import io.panscore.api.trajectory.Rsr;
import java.util.Locale;

/**
 * How a report is drawn. Immutable; start from {@link #defaults()}.
 *
 * @param title            the page title
 * @param colour           what a heatmap's colour shows first: {@code surprisal} or {@code entropy} (the page can switch)
 * @param rMax             rank clipping for the clipped-rank distributions (the RSR run's {@code --r-max})
 * @param badStepThreshold a PRM step whose reward r is below this is bad; the first one is marked
 * @param maxHeatmaps      token heatmaps drawn at most (the best trajectory of each problem, in input order)
 * @param maxPrmResponses  PRM responses whose step rewards are drawn at most
 */
public record ReportOptions(String title, String colour, int rMax, double badStepThreshold, int maxHeatmaps, int maxPrmResponses) {

    public ReportOptions {
        colour = colour.toLowerCase(Locale.ROOT);
        if (!colour.equals("surprisal") && !colour.equals("entropy")) {
            throw new IllegalArgumentException("colour must be surprisal or entropy, not " + colour);
        }
        if (rMax < 1) {
            throw new IllegalArgumentException("r-max must be at least 1, not " + rMax);
        }
        if (maxHeatmaps < 0 || maxPrmResponses < 0) {
            throw new IllegalArgumentException("the limits on heatmaps and PRM responses must not be negative");
        }
    }

    /**
     * Title "panscore report", colour by surprisal, r_max 100, bad step below 0, 50 heatmaps, 500 PRM responses.
     *
     * @return the defaults
     */
    public static ReportOptions defaults() {
        return new ReportOptions("panscore report", "surprisal", Rsr.DEFAULT_R_MAX, 0.0, 50, 500);
    }

    public ReportOptions withTitle(String v) {
        return new ReportOptions(v, colour, rMax, badStepThreshold, maxHeatmaps, maxPrmResponses);
    }

    public ReportOptions withColour(String v) {
        return new ReportOptions(title, v, rMax, badStepThreshold, maxHeatmaps, maxPrmResponses);
    }

    public ReportOptions withRMax(int v) {
        return new ReportOptions(title, colour, v, badStepThreshold, maxHeatmaps, maxPrmResponses);
    }

    public ReportOptions withBadStepThreshold(double v) {
        return new ReportOptions(title, colour, rMax, v, maxHeatmaps, maxPrmResponses);
    }

    public ReportOptions withMaxHeatmaps(int v) {
        return new ReportOptions(title, colour, rMax, badStepThreshold, v, maxPrmResponses);
    }

    public ReportOptions withMaxPrmResponses(int v) {
        return new ReportOptions(title, colour, rMax, badStepThreshold, maxHeatmaps, v);
    }
}
