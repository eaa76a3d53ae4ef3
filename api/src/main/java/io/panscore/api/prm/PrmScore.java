package io.panscore.api.prm;

import java.util.List;

/**
 * The implicit process rewards of one response.
 *
 * @param id          trajectory id
 * @param problem     its problem (best-of-N competes within a problem)
 * @param teacher     its source, "" if none
 * @param tokenCount  response tokens
 * @param beta        β used
 * @param logRatios   per-token ℓ_i = log π_θ − log π_ref (or log π_θ without a reference)
 * @param steps       the steps, in order
 */
public record PrmScore(String id, String problem, String teacher, int tokenCount, double beta, double[] logRatios, List<StepReward> steps) {

    public PrmScore {
        steps = List.copyOf(steps);
    }

    /** The response reward q^T (the last step's value). */
    public double responseReward() {
        return steps.isEmpty() ? 0 : steps.getLast().value();
    }

    /** The step rewards r^t or values q^t, aggregated. */
    public double aggregate(Aggregation agg, Aggregation.Over over) {
        double[] v = steps.stream().mapToDouble(s -> over == Aggregation.Over.R ? s.reward() : s.value()).toArray();
        return agg.apply(v);
    }

    /**
     * ProcessBench's first-error rule of the released ImplicitPRM code: the index of the first step
     * whose sigmoid(q^t) is below {@code threshold} (the step's value read as the probability that
     * the solution is still correct), or -1 when none is.
     */
    public int firstError(double threshold) {
        for (StepReward s : steps) {
            if (1.0 / (1.0 + Math.exp(-s.value())) < threshold) {
                return s.index();
            }
        }
        return -1;
    }

    /** Index of the first step whose reward r^t is below {@code threshold}, or -1. */
    public int firstStepBelow(double threshold) {
        for (StepReward s : steps) {
            if (s.reward() < threshold) {
                return s.index();
            }
        }
        return -1;
    }
}
