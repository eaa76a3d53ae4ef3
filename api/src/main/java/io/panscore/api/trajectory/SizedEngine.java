package io.panscore.api.trajectory;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import java.util.Objects;

/**
 * An engine whose context (KV cache) is sized to the work: each call asks for the tokens it needs
 * and gets an engine with at least that many, up to a limit (the model's training context unless
 * a context size is given). Sizes are powers of two from {@link #MIN_CONTEXT}, chosen from the
 * request alone, so the same window of trajectories always runs on the same context size (results
 * stay reproducible when a run is resumed). The engine is recreated when the size changes; memory
 * is that of one engine of the current size. Wrapping a caller's engine fixes the size to its
 * context. Not thread-safe.
 */
public final class SizedEngine implements AutoCloseable {

    /** The smallest context created (and the size of short work). */
    public static final int MIN_CONTEXT = 4096;

    private final Model model;
    private final EngineOptions base;
    private final int limit;
    private final boolean owned;
    private Engine engine;
    private int engineSize; // the context size the current engine was asked for

    private SizedEngine(Model model, EngineOptions base, int limit, Engine engine, boolean owned) {
        this.model = model;
        this.base = base;
        this.limit = limit;
        this.engine = engine;
        this.owned = owned;
    }

    /**
     * Engines on {@code model} with {@code options}; {@code options.contextSize()} 0 sizes the
     * context to the work up to the model's training context, a positive value fixes it.
     */
    public static SizedEngine sized(Model model, EngineOptions options) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        int train = model.info().contextTrain() > 0 ? model.info().contextTrain() : MIN_CONTEXT;
        int limit = options.contextSize() > 0 ? options.contextSize() : train;
        return new SizedEngine(model, options, limit, null, true);
    }

    /** The caller's engine, with its context as the limit; not closed by {@link #close()}. */
    public static SizedEngine fixed(Engine engine) {
        Objects.requireNonNull(engine, "engine");
        return new SizedEngine(engine.model(), engine.options(), engine.options().contextSize(), engine, false);
    }

    public Model model() {
        return model;
    }

    /** The largest context this can give: no sequence longer than this can be scored. */
    public int limit() {
        return limit;
    }

    /** The context size used for work of {@code tokens} tokens. */
    public int contextFor(int tokens) {
        if (!owned || base.contextSize() > 0) {
            return limit;
        }
        int size = MIN_CONTEXT;
        while (size < tokens && size < limit) {
            size = size > Integer.MAX_VALUE / 2 ? Integer.MAX_VALUE : size * 2;
        }
        return Math.min(size, limit);
    }

    /** An engine with room for {@code tokens} tokens (at most {@link #limit()}). */
    public Engine forTokens(int tokens) {
        int size = contextFor(tokens);
        if (!owned || (engine != null && engineSize == size)) {
            return engine;
        }
        if (engine != null) {
            engine.close();
            engine = null;
        }
        engine = model.newEngine(base.withContextSize(size));
        engineSize = size;
        return engine;
    }

    @Override
    public void close() {
        if (owned && engine != null) {
            engine.close();
            engine = null;
        }
    }
}
