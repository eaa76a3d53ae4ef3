package io.panscore.kernel;

import io.panscore.bindings.ps_score_params;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * What to compute per scored position besides logprob, entropy, rank and argmax.
 *
 * @param temperature statistics are computed on logits / temperature (default 1)
 * @param topK        also return the k most likely ids and their log-probs (default 0: none)
 */
public record ScoreOptions(double temperature, int topK) {

    public ScoreOptions {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number > 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        }
    }

    public static ScoreOptions defaults() {
        return new ScoreOptions(1.0, 0);
    }

    public ScoreOptions withTopK(int k) {
        return new ScoreOptions(temperature, k);
    }

    public ScoreOptions withTemperature(double t) {
        return new ScoreOptions(t, topK);
    }

    /** These options as the native {@code ps_score_params}, allocated in {@code arena}. */
    MemorySegment toNative(Arena arena) {
        MemorySegment params = ps_score_params.allocate(arena);
        ps_score_params.temperature(params, (float) temperature);
        ps_score_params.top_k(params, topK);
        return params;
    }
}
