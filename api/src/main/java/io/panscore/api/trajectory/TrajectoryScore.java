package io.panscore.api.trajectory;

import io.panscore.kernel.TokenScores;
import java.util.List;

/**
 * The scores of one trajectory's response under the student model (SPEC §3, §5).
 *
 * @param id              the trajectory's id
 * @param problem         its problem
 * @param teacher         its teacher
 * @param tokenCount      response tokens scored
 * @param meanSurprisal   mean of -logprob, nats (s̄)
 * @param meanClippedRank mean of min(rank, r_max) (r̄)
 * @param rsr             Σ min(r, r_max) / Σ s (the denominator guarded by 1e-12); lower is better
 * @param meanEntropy     mean full-vocabulary entropy, nats
 * @param perplexity      exp(mean surprisal)
 * @param tokens          per-token statistics, or null unless asked for
 * @param steps           per-step statistics, or an empty list unless a step delimiter was given
 */
public record TrajectoryScore(String id, String problem, String teacher, int tokenCount, double meanSurprisal, double meanClippedRank,
        double rsr, double meanEntropy, double perplexity, TokenScores tokens, List<StepStats> steps) {

    public TrajectoryScore {
        steps = List.copyOf(steps);
    }
}
