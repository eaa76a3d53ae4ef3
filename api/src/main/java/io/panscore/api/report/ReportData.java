package io.panscore.api.report;

import io.panscore.api.trajectory.TrajectoryScore;
import java.util.List;

/**
 * What a report shows: the RSR and PRM records read from score files, in input order.
 *
 * @param sources  the files read, as given
 * @param rsr      RSR records (from {@code panscore rsr})
 * @param prm      PRM records (from {@code panscore prm})
 * @param warnings lines skipped or repeated ids, one message each
 */
public record ReportData(List<String> sources, List<RsrRecord> rsr, List<PrmRecord> prm, List<String> warnings) {

    public ReportData {
        sources = List.copyOf(sources);
        rsr = List.copyOf(rsr);
        prm = List.copyOf(prm);
        warnings = List.copyOf(warnings);
    }

    /** The RSR scores alone, for {@link io.panscore.api.trajectory.DatasetSummary}. */
    public List<TrajectoryScore> rsrScores() {
        return rsr.stream().map(RsrRecord::score).toList();
    }

    /**
     * One token's top-k alternative.
     *
     * @param id      token id, or -1 when the file gave none
     * @param text    its text, or null
     * @param logprob its log-prob, nats (NaN when absent)
     */
    public record Alternative(int id, String text, double logprob) {}

    /**
     * Per-token statistics of a response, when the score file has them ({@code --per-token}).
     *
     * @param ids       token ids
     * @param texts     token texts (from the file or a model's vocabulary), or null
     * @param logprobs  log-probs, nats
     * @param entropies full-vocabulary entropies, nats
     * @param ranks     1-based ranks of the target token
     * @param topK      each token's top-k alternatives, or null
     */
    public record Tokens(int[] ids, String[] texts, double[] logprobs, double[] entropies, int[] ranks, List<List<Alternative>> topK) {

        /** Number of tokens. */
        public int size() {
            return logprobs.length;
        }
    }

    /**
     * One RSR record.
     *
     * @param score  the trajectory's scores (what {@code DatasetSummary} ranks)
     * @param tokens per-token statistics, or null
     * @param source the file and line it came from
     */
    public record RsrRecord(TrajectoryScore score, Tokens tokens, String source) {}

    /**
     * One reasoning step's implicit process reward.
     *
     * @param index      0-based step number
     * @param tokenCount tokens in the step
     * @param reward     r^t
     * @param value      q^t
     */
    public record PrmStep(int index, int tokenCount, double reward, double value) {}

    /**
     * One PRM record.
     *
     * @param id         response id
     * @param problem    its problem
     * @param teacher    its source ("" if none)
     * @param tokenCount response tokens
     * @param beta       β
     * @param reward     response reward q^T
     * @param steps      the steps, in order
     * @param logRatios  per-token log-ratios, or null
     * @param source     the file and line it came from
     */
    public record PrmRecord(String id, String problem, String teacher, int tokenCount, double beta, double reward, List<PrmStep> steps,
            double[] logRatios, String source) {

        public PrmRecord {
            steps = List.copyOf(steps);
        }

        /** The index in {@link #steps()} of the first step whose reward is below {@code threshold}, or -1. */
        public int firstBadStep(double threshold) {
            for (int i = 0; i < steps.size(); i++) {
                if (steps.get(i).reward() < threshold) {
                    return i;
                }
            }
            return -1;
        }

        /** The lowest step reward (the paper's best-of-N score), or the response reward without steps. */
        public double minReward() {
            return steps.stream().mapToDouble(PrmStep::reward).min().orElse(reward);
        }
    }
}
