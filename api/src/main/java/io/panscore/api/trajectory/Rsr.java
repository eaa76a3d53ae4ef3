package io.panscore.api.trajectory;

import io.panscore.kernel.TokenScores;
import java.util.ArrayList;
import java.util.List;

/** The Rank-Surprisal Ratio and its parts (SPEC §3), from per-token statistics. Stateless. */
public final class Rsr {

    /** r_max of the paper. */
    public static final int DEFAULT_R_MAX = 100;

    /** Guards the denominator of every ratio. */
    public static final double EPS = 1e-12;

    private Rsr() {}

    /**
     * Scores one trajectory.
     *
     * @param tokenSteps the step of each scored token (see {@link Steps}), or null for no steps
     * @param keepTokens whether the result keeps the per-token arrays
     */
    public static TrajectoryScore score(String id, String problem, String teacher, TokenScores t, int rMax, int[] tokenSteps,
            boolean keepTokens) {
        int n = t.size();
        double sumS = 0;
        double sumR = 0;
        double sumH = 0;
        for (int i = 0; i < n; i++) {
            sumS += -(double) t.logprob()[i];
            sumR += Math.min(t.rank()[i], rMax);
            sumH += t.entropy()[i];
        }
        List<StepStats> steps = tokenSteps == null ? List.of() : steps(t, tokenSteps, rMax);
        double meanS = sumS / n;
        return new TrajectoryScore(id, problem, teacher, n, meanS, sumR / n, sumR / Math.max(sumS, EPS), sumH / n, Math.exp(meanS),
                keepTokens ? t : null, steps);
    }

    static List<StepStats> steps(TokenScores t, int[] tokenSteps, int rMax) {
        List<StepStats> out = new ArrayList<>();
        int i = 0;
        while (i < tokenSteps.length) {
            int step = tokenSteps[i];
            int j = i;
            double sumH = 0;
            double maxH = Double.NEGATIVE_INFINITY;
            double minLp = Double.POSITIVE_INFINITY;
            double sumR = 0;
            double sumLp = 0;
            while (j < tokenSteps.length && tokenSteps[j] == step) {
                sumH += t.entropy()[j];
                maxH = Math.max(maxH, t.entropy()[j]);
                minLp = Math.min(minLp, t.logprob()[j]);
                sumR += Math.min(t.rank()[j], rMax);
                sumLp += t.logprob()[j];
                j++;
            }
            int count = j - i;
            out.add(new StepStats(step, count, sumH / count, maxH, minLp, sumR / count, sumLp));
            i = j;
        }
        return out;
    }

    /**
     * Dataset-level RSR of a set of trajectories (one teacher's): Σ_j r̄_j / Σ_j s̄_j.
     */
    public static double datasetRsr(List<TrajectoryScore> scores) {
        double r = 0;
        double s = 0;
        for (TrajectoryScore t : scores) {
            r += t.meanClippedRank();
            s += t.meanSurprisal();
        }
        return r / Math.max(s, EPS);
    }
}
