package io.panscore.api.trajectory;

/**
 * The cheap per-step extras of SPEC §5, over the tokens of one reasoning step.
 *
 * @param index           0-based step number
 * @param tokenCount      tokens in the step
 * @param meanEntropy     mean full-vocabulary entropy, nats
 * @param maxEntropy      largest entropy, nats
 * @param minLogprob      lowest token log-prob, nats
 * @param meanClippedRank mean of min(rank, r_max)
 * @param sumLogprob      total log-prob of the step's tokens
 */
public record StepStats(int index, int tokenCount, double meanEntropy, double maxEntropy, double minLogprob, double meanClippedRank,
        double sumLogprob) {}
