package io.panscore.api.prm;

import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.TrajectoryOptions;

/**
 * Settings of implicit process rewards.
 *
 * @param beta           β of r^t = β Σ ℓ_i. Default 0.001, the released code's value
 *                       (ImplicitPRM prm_eval_utils.py and the EurusPRM usage); the paper trains with
 *                       0.05 and the released ProcessBench script uses 0.005: set the β your PRM was
 *                       trained with
 * @param delimiter      steps are split on this text unless a trajectory gives explicit steps ("\n\n";
 *                       EurusPRM-style models use "\n")
 * @param template       how the prompt is rendered
 * @param chunkSize      trajectories per native call on each model
 * @param keepLogRatios  keep the per-token log-ratios in the results
 * @param stepPrefix     explicit steps are written as the released code writes them: step i becomes
 *                       {@code "Step i: " + step}, joined by "\n\n" (each step keeps its "\n\n")
 * @param stepMarkers    responses without explicit steps are split before each {@code "Step N:"}
 *                       marker instead of on the delimiter (the released best-of-N re-split)
 * @param scoreEndOfTurn the end-of-turn token that follows the response is scored and counts in
 *                       the last step, as in the released code (off: response tokens only)
 * @param errorThreshold ProcessBench's first-error rule: the first step whose sigmoid(q^t) is
 *                       below this is the predicted first error (default 0.5)
 * @param maxTokens      prompt + response are cut to this many tokens, the rest still scored
 * @param processBenchBoundaries each q^t ends where the released ProcessBench script ends it (our
 *                       reading, docs/PARITY.md): after step t's content (without the separator that
 *                       follows it) plus the tokens the chat template writes after an assistant
 *                       message's content (ChatML/Qwen: {@code <|im_end|>} and "\n", 2), i.e. one or
 *                       two tokens into the next step, clipped at the end of what is scored; r^t is
 *                       then q^t − q^{t−1}. A step's tokens and the policy's extras stay its own.
 *                       Off: q^t ends at the step's own last token.
 */
public record PrmOptions(double beta, String delimiter, PromptTemplate template, int chunkSize, boolean keepLogRatios,
        boolean stepPrefix, boolean stepMarkers, boolean scoreEndOfTurn, double errorThreshold, int maxTokens, boolean processBenchBoundaries) {

    /** The released code's β (prm_eval_utils.py, EurusPRM usage). */
    public static final double DEFAULT_BETA = 0.001;
    /** β in the paper's training (arXiv 2412.01981). */
    public static final double PAPER_BETA = 0.05;
    /** β of the released ProcessBench evaluation script. */
    public static final double PROCESSBENCH_BETA = 0.005;
    /**
     * sigmoid(q^t) below this marks the first error: 0.5005, the threshold the released ImplicitPRM
     * ProcessBench run (eval/process_eval.sh) applies to datasets after choosing it on GSM8K; with
     * {@code prm --eval --search-thresholds N} a threshold is chosen the same way on a labelled set.
     */
    public static final double DEFAULT_ERROR_THRESHOLD = 0.5005;

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
        if (!(errorThreshold > 0 && errorThreshold < 1)) {
            throw new IllegalArgumentException("errorThreshold must be in (0, 1), got " + errorThreshold);
        }
        if (maxTokens < 2) {
            throw new IllegalArgumentException("maxTokens must be >= 2, got " + maxTokens);
        }
    }

    public PrmOptions(double beta, String delimiter, PromptTemplate template, int chunkSize, boolean keepLogRatios) {
        this(beta, delimiter, template, chunkSize, keepLogRatios, false, false, false, DEFAULT_ERROR_THRESHOLD,
                TrajectoryOptions.DEFAULT_MAX_TOKENS);
    }

    /** The options without ProcessBench's step boundaries. */
    public PrmOptions(double beta, String delimiter, PromptTemplate template, int chunkSize, boolean keepLogRatios,
            boolean stepPrefix, boolean stepMarkers, boolean scoreEndOfTurn, double errorThreshold, int maxTokens) {
        this(beta, delimiter, template, chunkSize, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, false);
    }

    public static PrmOptions defaults() {
        return new PrmOptions(DEFAULT_BETA, "\n\n", PromptTemplate.model(), 64, false);
    }

    /**
     * The released ImplicitPRM code's behaviour, switch by switch (docs/PARITY.md): β 0.001, the
     * model's chat template through Jinja, "Step i: " prefixes on explicit steps, "Step N:"
     * re-splitting of plain responses, the end-of-turn token scored in the last step.
     */
    public static PrmOptions implicitPrmParity() {
        return defaults().withBeta(DEFAULT_BETA).withTemplate(PromptTemplate.model()).withStepPrefix(true).withStepMarkers(true)
                .withScoreEndOfTurn(true);
    }

    /**
     * The released ImplicitPRM ProcessBench run (our reading, docs/PARITY.md): everything of
     * {@link #implicitPrmParity()}, β 0.005 ({@link #PROCESSBENCH_BETA}), and its step boundaries
     * ({@link #processBenchBoundaries()}): each q^t ends as many tokens past step t's content as
     * the chat template writes after an assistant message's content. The first-error threshold
     * stays {@link #DEFAULT_ERROR_THRESHOLD}.
     */
    public static PrmOptions processBenchParity() {
        return implicitPrmParity().withBeta(PROCESSBENCH_BETA).withProcessBenchBoundaries(true);
    }

    public PrmOptions withBeta(double v) {
        return new PrmOptions(v, delimiter, template, chunkSize, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withDelimiter(String v) {
        return new PrmOptions(beta, v, template, chunkSize, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withTemplate(PromptTemplate v) {
        return new PrmOptions(beta, delimiter, v, chunkSize, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withChunkSize(int v) {
        return new PrmOptions(beta, delimiter, template, v, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withKeepLogRatios(boolean v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, v, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withStepPrefix(boolean v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, keepLogRatios, v, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withStepMarkers(boolean v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, keepLogRatios, stepPrefix, v, scoreEndOfTurn, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withScoreEndOfTurn(boolean v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, keepLogRatios, stepPrefix, stepMarkers, v, errorThreshold, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withErrorThreshold(double v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, v, maxTokens, processBenchBoundaries);
    }

    public PrmOptions withMaxTokens(int v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, v, processBenchBoundaries);
    }

    public PrmOptions withProcessBenchBoundaries(boolean v) {
        return new PrmOptions(beta, delimiter, template, chunkSize, keepLogRatios, stepPrefix, stepMarkers, scoreEndOfTurn, errorThreshold, maxTokens, v);
    }
}
