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
 * @param maxTokens      prompt + response are cut to at most this many tokens (and to the context
 *                       limit) and what is kept is still scored, as the released RSR code does at
 *                       max_model_len (default 32768, its value)
 */
public record TrajectoryOptions(int rMax, PromptTemplate template, String stepDelimiter, boolean perToken, int chunkSize, int maxTokens) {

    /** The released RSR code's max_model_len (rsr_launch.py). */
    public static final int DEFAULT_MAX_TOKENS = 32768;

    public TrajectoryOptions {
        if (rMax < 1) {
            throw new IllegalArgumentException("rMax must be >= 1, got " + rMax);
        }
        if (chunkSize < 1) {
            throw new IllegalArgumentException("chunkSize must be >= 1, got " + chunkSize);
        }
        if (maxTokens < 2) {
            throw new IllegalArgumentException("maxTokens must be >= 2, got " + maxTokens);
        }
        if (template == null) {
            throw new IllegalArgumentException("template must not be null");
        }
        if (stepDelimiter != null && stepDelimiter.isEmpty()) {
            stepDelimiter = null;
        }
    }

    public static TrajectoryOptions defaults() {
        return new TrajectoryOptions(Rsr.DEFAULT_R_MAX, PromptTemplate.model(), null, false, 64, DEFAULT_MAX_TOKENS);
    }

    public TrajectoryOptions withRMax(int v) {
        return new TrajectoryOptions(v, template, stepDelimiter, perToken, chunkSize, maxTokens);
    }

    public TrajectoryOptions withTemplate(PromptTemplate v) {
        return new TrajectoryOptions(rMax, v, stepDelimiter, perToken, chunkSize, maxTokens);
    }

    public TrajectoryOptions withStepDelimiter(String v) {
        return new TrajectoryOptions(rMax, template, v, perToken, chunkSize, maxTokens);
    }

    public TrajectoryOptions withPerToken(boolean v) {
        return new TrajectoryOptions(rMax, template, stepDelimiter, v, chunkSize, maxTokens);
    }

    public TrajectoryOptions withChunkSize(int v) {
        return new TrajectoryOptions(rMax, template, stepDelimiter, perToken, v, maxTokens);
    }

    public TrajectoryOptions withMaxTokens(int v) {
        return new TrajectoryOptions(rMax, template, stepDelimiter, perToken, chunkSize, v);
    }
}
