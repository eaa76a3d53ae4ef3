package io.panscore.kernel;

import io.panscore.bindings.ps_sampling_params;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * How the next token is picked: llama.cpp's sampler chain (top-k, top-p, min-p, then the
 * temperature, then a seeded draw), the order llama-server applies these four in.
 *
 * @param temperature the logits are divided by it before the draw; 0 = greedy: the most likely
 *                    token (lowest id on ties), no randomness, the other fields ignored
 * @param topP        keep the most likely tokens until their probability reaches topP, in [0, 1];
 *                    0 or 1 = off
 * @param topK        keep the topK most likely tokens; 0 = off
 * @param minP        drop tokens less likely than minP times the most likely, in [0, 1); 0 = off
 * @param seed        the random generator's seed, 0 .. 4294967294, the same seed giving the same
 *                    tokens for the same context; -1 = a random seed
 */
public record SamplingOptions(double temperature, double topP, int topK, double minP, long seed) {

    /** The largest seed (llama.cpp reserves 0xFFFFFFFF for "random"). */
    public static final long MAX_SEED = 4_294_967_294L;

    public SamplingOptions {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw invalid("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (!(topP >= 0 && topP <= 1)) {
            throw invalid("topP must be in [0, 1] (0 or 1 = off), got " + topP);
        }
        if (topK < 0) {
            throw invalid("topK must be >= 0 (0 = off), got " + topK);
        }
        if (!(minP >= 0 && minP < 1)) {
            throw invalid("minP must be in [0, 1) (0 = off), got " + minP);
        }
        if (seed < -1 || seed > MAX_SEED) {
            throw invalid("seed must be in [0, " + MAX_SEED + "], or -1 for a random seed, got " + seed);
        }
    }

    /** Greedy decoding: always the most likely token. */
    public static SamplingOptions greedy() {
        return new SamplingOptions(0, 1, 0, 0, -1);
    }

    /** A plain draw from the model's distribution at temperature 1 with the given seed. */
    public static SamplingOptions seeded(long seed) {
        return new SamplingOptions(1, 1, 0, 0, seed);
    }

    public SamplingOptions withTemperature(double t) {
        return new SamplingOptions(t, topP, topK, minP, seed);
    }

    public SamplingOptions withTopP(double p) {
        return new SamplingOptions(temperature, p, topK, minP, seed);
    }

    public SamplingOptions withTopK(int k) {
        return new SamplingOptions(temperature, topP, k, minP, seed);
    }

    public SamplingOptions withMinP(double p) {
        return new SamplingOptions(temperature, topP, topK, p, seed);
    }

    public SamplingOptions withSeed(long s) {
        return new SamplingOptions(temperature, topP, topK, minP, s);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    /** These options as the native {@code ps_sampling_params}, allocated in {@code arena}. */
    MemorySegment toNative(Arena arena) {
        MemorySegment p = ps_sampling_params.allocate(arena);
        ps_sampling_params.temperature(p, (float) temperature);
        ps_sampling_params.top_p(p, (float) topP);
        ps_sampling_params.min_p(p, (float) minP);
        ps_sampling_params.top_k(p, topK);
        ps_sampling_params.seed(p, seed);
        return p;
    }

    private static InvalidInputException invalid(String message) {
        return new InvalidInputException(1, message); // PS_ERR_INVALID_ARGUMENT
    }
}
