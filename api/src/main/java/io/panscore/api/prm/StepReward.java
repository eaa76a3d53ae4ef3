package io.panscore.api.prm;

/**
 * One reasoning step's implicit process reward (SPEC §4) and the policy's cheap extras (§5).
 *
 * @param index           0-based step number
 * @param tokenCount      tokens in the step
 * @param reward          r^t = β Σ_{i in step} ℓ_i
 * @param value           q^t = β Σ_{i up to the step's last token} ℓ_i
 * @param meanEntropy     policy's mean full-vocabulary entropy over the step, nats
 * @param maxEntropy      its maximum
 * @param minLogprob      the policy's lowest token log-prob in the step
 * @param meanClippedRank mean of min(rank, 100) under the policy
 */
public record StepReward(int index, int tokenCount, double reward, double value, double meanEntropy, double maxEntropy, double minLogprob,
        double meanClippedRank) {}
