package io.panscore.api.trajectory;

/**
 * How trajectories are turned into tokens and scored.
 *
 * @param rMax           rank clipping of RSR (paper: 100)
 * @param template       how the prompt side is rendered (default: the model's chat template)
 * @param stepDelimiter  split responses into steps on this text and report per-step statistics;
 *                       null for none (SPEC's traces use "\n\n")
 * @param perToken       keep per-token arrays in the results
 * @param chunkSize      trajectories scored per native call; bounds memory, and sets how many
 *                       trajectories can share prompts and be packed together (default 64)
 */
public record TrajectoryOptions(int rMax, PromptTemplate template, String stepDelimiter, boolean perToken, int chunkSize) {

    public TrajectoryOptions {
        if (rMax < 1) {
            throw new IllegalArgumentException("rMax must be >= 1, got " + rMax);
        }
        if (chunkSize < 1) {
            throw new IllegalArgumentException("chunkSize must be >= 1, got " + chunkSize);
        }
        if (template == null) {
            throw new IllegalArgumentException("template must not be null");
        }
        if (stepDelimiter != null && stepDelimiter.isEmpty()) {
            stepDelimiter = null;
        }
    }

    public static TrajectoryOptions defaults() {
        return new TrajectoryOptions(Rsr.DEFAULT_R_MAX, PromptTemplate.model(), null, false, 64);
    }

    public TrajectoryOptions withRMax(int v) {
        return new TrajectoryOptions(v, template, stepDelimiter, perToken, chunkSize);
    }

    public TrajectoryOptions withTemplate(PromptTemplate v) {
        return new TrajectoryOptions(rMax, v, stepDelimiter, perToken, chunkSize);
    }

    public TrajectoryOptions withStepDelimiter(String v) {
        return new TrajectoryOptions(rMax, template, v, perToken, chunkSize);
    }

    public TrajectoryOptions withPerToken(boolean v) {
        return new TrajectoryOptions(rMax, template, stepDelimiter, v, chunkSize);
    }

    public TrajectoryOptions withChunkSize(int v) {
        return new TrajectoryOptions(rMax, template, stepDelimiter, perToken, v);
    }
}
