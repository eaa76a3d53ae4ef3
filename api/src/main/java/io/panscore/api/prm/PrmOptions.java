package io.panscore.api.prm;

import io.panscore.api.trajectory.PromptTemplate;

/**
 * Settings of implicit process rewards.
 *
 * @param beta      β of r^t = β Σ ℓ_i (paper: 0.05; EurusPRM usage 0.001; ProcessBench evaluation 0.005)
 * @param delimiter steps are split on this text unless a trajectory gives explicit steps ("\n\n";
 *                  EurusPRM-style models use "\n")
 * @param template  how the prompt is rendered
 * @param chunkSize trajectories per native call on each model
 * @param keepLogRatios keep the per-token log-ratios in the results
 */
public record PrmOptions(double beta, String delimiter, PromptTemplate template, int chunkSize, boolean keepLogRatios) {

    public static final double DEFAULT_BETA = 0.05;

    public PrmOptions {
        if (!(beta > 0) || Double.isInfinite(beta)) {
            throw new IllegalArgumentException("beta must be a finite number > 0, got " + beta);
        }
        if (delimiter == null || delimiter.isEmpty()) {
            throw new IllegalArgumentException("the step delimiter must not be empty");
        }
        if (chunkSize < 1) {
            throw new IllegalArgumentException("chunkSize must be >= 1, got " + chunkSize);
        }
        if (template == null) {
            throw new IllegalArgumentException("template must not be null");
        }
    }

    public static PrmOptions defaults() {
        return new PrmOptions(DEFAULT_BETA, "\n\n", PromptTemplate.model(), 64, false);
    }

    public PrmOptions withBeta(double v) {
        return new PrmOptions(v, delimiter, template, chunkSize, keepLogRatios);
    }

    public PrmOptions withDelimiter(String v) {
        return new PrmOptions(beta, v, template, chunkSize, keepLogRatios);
    }

    public PrmOptions withTemplate(PromptTemplate v) {
        return new PrmOptions(beta, delimiter, v, chunkSize, keepLogRatios);
    }

    public PrmOptions withChunkSize(int v) {
        return new PrmOptions(beta, delimiter, template, v, keepLogRatios);
    }

    public PrmOptions withKeepLogRatios(boolean v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, v);
    }
}
