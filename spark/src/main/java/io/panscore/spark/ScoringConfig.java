package io.panscore.spark;

import io.panscore.api.prm.PrmOptions;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Rsr;
import io.panscore.api.trajectory.TrajectoryOptions;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.ModelOptions;
import java.io.Serializable;

/**
 * What a Spark scoring job does: RSR under a student model, implicit PRM rewards under a policy (and
 * a reference), or both in one pass. Immutable and serializable: it travels to the executors inside
 * the partition functions, which build panscore's own options from it there.
 *
 * <p>Model paths are read on the executors: a path every executor can read (a shared file system),
 * or the bare file name of a model shipped with {@code spark-submit --files}, which is looked up
 * with {@code SparkFiles.get} when no such path exists.
 *
 * @param rsrModel       the student model for RSR, or null for no RSR
 * @param prmPolicy      the policy (PRM) model for implicit rewards, or null for no PRM
 * @param prmReference   the reference model, or null for "no reference" mode (ℓ = log π_policy)
 * @param rMax           RSR's rank clipping (CLI {@code --r-max})
 * @param stepDelimiter  RSR per-step statistics split on this text, or null for none (CLI {@code rsr --step-delimiter})
 * @param beta           PRM β (CLI {@code --beta})
 * @param prmDelimiter   PRM step delimiter unless a row gives explicit steps (CLI {@code prm --delimiter})
 * @param template       prompt rendering: "model", "none" or a llama.cpp template name (CLI {@code --template})
 * @param batching       how trajectories are grouped into native calls; see {@link Batching}
 * @param chunk          trajectories per native call in {@link Batching#PROBLEM} mode (CLI {@code --chunk})
 * @param partitions     partitions to score in: 0 = Spark's default parallelism (SINGLE) or
 *                       {@code spark.sql.shuffle.partitions} (PROBLEM)
 * @param onError        what a malformed row or an unscorable trajectory does
 * @param contextSize    engine context (CLI {@code --ctx}; 0 = the model's, at most 4096)
 * @param batchSize      tokens per decode (CLI {@code --batch}; 0 = 512)
 * @param microBatchSize micro-batch (CLI {@code --ubatch}; 0 = 512)
 * @param threads        threads per engine; 0 = the task's CPUs ({@code spark.task.cpus})
 * @param gpuLayers      layers offloaded to the GPU (CLI {@code --gpu-layers}; -1 = all); the
 *                       task's GPU (from Spark's resource scheduling) is used when it has one
 * @param maxTokens      prompt + response are cut to this many tokens, and to the engine's context,
 *                       and what is kept is scored (CLI {@code --max-tokens}; default 32768, the
 *                       released RSR code's max_model_len); a cut row has {@code truncated_from}
 */
public record ScoringConfig(String rsrModel, String prmPolicy, String prmReference, int rMax, String stepDelimiter, double beta,
        String prmDelimiter, String template, Batching batching, int chunk, int partitions, OnError onError, int contextSize, int batchSize,
        int microBatchSize, int threads, int gpuLayers, int maxTokens) implements Serializable {

    /** The configuration with the default {@code maxTokens} (32768). */
    public ScoringConfig(String rsrModel, String prmPolicy, String prmReference, int rMax, String stepDelimiter, double beta,
            String prmDelimiter, String template, Batching batching, int chunk, int partitions, OnError onError, int contextSize, int batchSize,
            int microBatchSize, int threads, int gpuLayers) {
        this(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions, onError, contextSize,
                batchSize, microBatchSize, threads, gpuLayers, TrajectoryOptions.DEFAULT_MAX_TOKENS);
    }

    private static final long serialVersionUID = 1L;

    /**
     * How trajectories share native calls. panscore's numbers are reproducible to the bit only for
     * the same batch composition (packing changes them by ~1e-4), so both modes fix the company a
     * trajectory is scored in independently of Spark's partitioning.
     */
    public enum Batching {
        /**
         * Each trajectory in its own native call: no shuffle, any partitioning, and bit-identical
         * to the CLI with {@code --chunk 1}. No prompt sharing or packing across trajectories.
         */
        SINGLE,
        /**
         * The trajectories of one problem together, sorted by id, in windows of {@code chunk}: one
         * shuffle by problem; shared prompts are decoded once and responses are packed into fewer,
         * larger native calls (which pays where big batches do: a GPU, many threads per engine).
         * Bit-identical to panscore's scorers run on each problem's trajectories sorted by id;
         * equal to the CLI's numbers within packing's ~1e-4. A problem is one task's work.
         */
        PROBLEM
    }

    /** What a malformed row (or an unscorable trajectory) does. */
    public enum OnError {
        /** Count it (an accumulator), write it with its reason to the bad-rows output, go on. */
        SKIP,
        /** Fail the job with its reason. */
        FAIL
    }

    public ScoringConfig {
        if (rsrModel == null && prmPolicy == null) {
            throw new IllegalArgumentException("nothing to score: give an RSR model, a PRM policy, or both");
        }
        if (prmReference != null && prmPolicy == null) {
            throw new IllegalArgumentException("a PRM reference model needs a PRM policy model");
        }
        if (batching == null || onError == null || template == null) {
            throw new IllegalArgumentException("batching, onError and template must not be null");
        }
        if (stepDelimiter != null && stepDelimiter.isEmpty()) {
            stepDelimiter = null;
        }
        if (partitions < 0) {
            throw new IllegalArgumentException("partitions must be >= 0, got " + partitions);
        }
        // validate the rest the way the scorers will, on the driver, before any task runs (the
        // accessors cannot be used yet: the fields are assigned after this body)
        PromptTemplate t = PromptTemplate.parse(template);
        int window = batching == Batching.SINGLE ? 1 : chunk;
        TrajectoryOptions.defaults().withRMax(rMax).withTemplate(t).withChunkSize(window).withMaxTokens(maxTokens);
        PrmOptions.defaults().withBeta(beta).withDelimiter(prmDelimiter).withTemplate(t).withChunkSize(chunk);
        EngineOptions.defaults().withContextSize(contextSize).withBatchSize(batchSize).withMicroBatchSize(microBatchSize).withThreads(threads);
        new ModelOptions(gpuLayers, 0, true, false);
    }

    /** RSR under {@code model}, the CLI's defaults otherwise. */
    public static ScoringConfig rsr(String model) {
        return new ScoringConfig(model, null, null, Rsr.DEFAULT_R_MAX, null, PrmOptions.DEFAULT_BETA, "\n\n", "model", Batching.SINGLE, 64, 0,
                OnError.SKIP, 0, 0, 0, 0, 0);
    }

    /** Implicit PRM under {@code policy} against {@code reference} (null: no reference), the CLI's defaults otherwise. */
    public static ScoringConfig prm(String policy, String reference) {
        return new ScoringConfig(null, policy, reference, Rsr.DEFAULT_R_MAX, null, PrmOptions.DEFAULT_BETA, "\n\n", "model", Batching.SINGLE, 64,
                0, OnError.SKIP, 0, 0, 0, 0, 0);
    }

    public boolean scoresRsr() {
        return rsrModel != null;
    }

    public boolean scoresPrm() {
        return prmPolicy != null;
    }

    /** The per-call window: 1 trajectory in SINGLE mode, {@code chunk} in PROBLEM mode. */
    public int window() {
        return batching == Batching.SINGLE ? 1 : chunk;
    }

    public TrajectoryOptions trajectoryOptions() {
        return TrajectoryOptions.defaults().withRMax(rMax).withTemplate(PromptTemplate.parse(template)).withStepDelimiter(stepDelimiter)
                .withChunkSize(window()).withMaxTokens(maxTokens);
    }

    public PrmOptions prmOptions() {
        return PrmOptions.defaults().withBeta(beta).withDelimiter(prmDelimiter).withTemplate(PromptTemplate.parse(template))
                .withChunkSize(window()).withMaxTokens(maxTokens);
    }

    /** Engine options with {@code defaultThreads} used when {@link #threads()} is 0. */
    public EngineOptions engineOptions(int defaultThreads) {
        return EngineOptions.defaults().withContextSize(contextSize).withBatchSize(batchSize).withMicroBatchSize(microBatchSize)
                .withThreads(threads > 0 ? threads : defaultThreads);
    }

    public ModelOptions modelOptions(int mainGpu) {
        return new ModelOptions(gpuLayers, mainGpu, true, false);
    }

    public ScoringConfig withRsrModel(String v) {
        return new ScoringConfig(v, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withPrm(String policy, String reference) {
        return new ScoringConfig(rsrModel, policy, reference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withRMax(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, v, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withStepDelimiter(String v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, v, beta, prmDelimiter, template, batching, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withBeta(double v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, v, prmDelimiter, template, batching, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withPrmDelimiter(String v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, v, template, batching, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withTemplate(String v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, v, batching, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withBatching(Batching v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, v, chunk, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withChunk(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, v, partitions, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withPartitions(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, v, onError,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withOnError(OnError v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions, v,
                contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withContextSize(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions,
                onError, v, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withBatchSize(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions,
                onError, contextSize, v, microBatchSize, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withMicroBatchSize(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions,
                onError, contextSize, batchSize, v, threads, gpuLayers, maxTokens);
    }

    public ScoringConfig withThreads(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions,
                onError, contextSize, batchSize, microBatchSize, v, gpuLayers, maxTokens);
    }

    public ScoringConfig withGpuLayers(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions,
                onError, contextSize, batchSize, microBatchSize, threads, v, maxTokens);
    }

    public ScoringConfig withMaxTokens(int v) {
        return new ScoringConfig(rsrModel, prmPolicy, prmReference, rMax, stepDelimiter, beta, prmDelimiter, template, batching, chunk, partitions,
                onError, contextSize, batchSize, microBatchSize, threads, gpuLayers, v);
    }
}
