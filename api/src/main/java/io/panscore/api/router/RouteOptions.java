package io.panscore.api.router;

import io.panscore.kernel.SamplingOptions;
import java.util.Objects;

/**
 * The routing loop's settings. Defaults ({@link #defaults()}) follow the released GlimpRouter code
 * (SPEC §2): steps sampled at temperature 0.6, top-p 0.95, at most 512 tokens, ending at "\n\n";
 * the loop stops at {@code </think>}, a repeated step or 8192 step tokens in all; the large model
 * writes the final answer (at most 2048 tokens, same sampling).
 *
 * @param policy          who writes each step
 * @param largeFraction   for {@link RoutePolicy#RANDOM}: the probability that a step goes to the large model
 * @param seed            seeds the step samplers (step k uses seed + k) and the RANDOM policy's coin
 * @param temperature     step sampling temperature (0 = greedy)
 * @param topP            step sampling top-p
 * @param maxStepTokens   most tokens per step
 * @param delimiter       the step delimiter, also the step's stop string
 * @param endOfThinking   a step containing it ends the reasoning
 * @param maxTotalTokens  the reasoning stops once its steps hold this many tokens
 * @param maxAnswerTokens most tokens of the final answer; 0 = no final answer
 */
public record RouteOptions(RoutePolicy policy, double largeFraction, long seed, double temperature, double topP, int maxStepTokens, String delimiter,
        String endOfThinking, int maxTotalTokens, int maxAnswerTokens) {

    public RouteOptions {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(delimiter, "delimiter");
        Objects.requireNonNull(endOfThinking, "endOfThinking");
        if (!(largeFraction >= 0 && largeFraction <= 1)) {
            throw new IllegalArgumentException("largeFraction must be in [0, 1], got " + largeFraction);
        }
        if (seed < 0 || seed > SamplingOptions.MAX_SEED - 100_000) {
            throw new IllegalArgumentException("seed must be in [0, " + (SamplingOptions.MAX_SEED - 100_000) + "], got " + seed);
        }
        new SamplingOptions(temperature, topP, 0, 0, seed); // validates temperature and topP
        if (maxStepTokens < 1 || maxTotalTokens < 1 || maxAnswerTokens < 0) {
            throw new IllegalArgumentException("maxStepTokens and maxTotalTokens must be >= 1, maxAnswerTokens >= 0; got " + maxStepTokens + ", "
                    + maxTotalTokens + ", " + maxAnswerTokens);
        }
        if (delimiter.isEmpty()) {
            throw new IllegalArgumentException("delimiter must not be empty");
        }
    }

    public static RouteOptions defaults() {
        return new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.6, 0.95, 512, "\n\n", "</think>", 8192, 2048);
    }

    public RouteOptions withPolicy(RoutePolicy p) {
        return new RouteOptions(p, largeFraction, seed, temperature, topP, maxStepTokens, delimiter, endOfThinking, maxTotalTokens, maxAnswerTokens);
    }

    public RouteOptions withLargeFraction(double f) {
        return new RouteOptions(policy, f, seed, temperature, topP, maxStepTokens, delimiter, endOfThinking, maxTotalTokens, maxAnswerTokens);
    }

    public RouteOptions withSeed(long s) {
        return new RouteOptions(policy, largeFraction, s, temperature, topP, maxStepTokens, delimiter, endOfThinking, maxTotalTokens, maxAnswerTokens);
    }

    public RouteOptions withSampling(double t, double p) {
        return new RouteOptions(policy, largeFraction, seed, t, p, maxStepTokens, delimiter, endOfThinking, maxTotalTokens, maxAnswerTokens);
    }

    public RouteOptions withMaxStepTokens(int n) {
        return new RouteOptions(policy, largeFraction, seed, temperature, topP, n, delimiter, endOfThinking, maxTotalTokens, maxAnswerTokens);
    }

    public RouteOptions withEndOfThinking(String s) {
        return new RouteOptions(policy, largeFraction, seed, temperature, topP, maxStepTokens, delimiter, s, maxTotalTokens, maxAnswerTokens);
    }

    public RouteOptions withMaxTotalTokens(int n) {
        return new RouteOptions(policy, largeFraction, seed, temperature, topP, maxStepTokens, delimiter, endOfThinking, n, maxAnswerTokens);
    }

    public RouteOptions withMaxAnswerTokens(int n) {
        return new RouteOptions(policy, largeFraction, seed, temperature, topP, maxStepTokens, delimiter, endOfThinking, maxTotalTokens, n);
    }

    /** The sampler of step {@code k} (0-based). */
    SamplingOptions stepSampling(int k) {
        return new SamplingOptions(temperature, topP, 0, 0, seed + k);
    }
}
