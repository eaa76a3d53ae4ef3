package io.panscore.bench;

import io.panscore.api.router.Decision;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Glimpse;
import io.panscore.kernel.Model;
import io.panscore.kernel.SessionPool;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * GlimpRouter, part (a): the latency of one glimpse on a warm session, through the router and
 * straight on the session pool, on the same model, engine options and tokens. JMH
 * {@link Mode#SampleTime}: every invocation is timed and JMH reports percentiles (p50, p90, p99,
 * ...) of the samples of all measurement iterations.
 * <ul>
 *   <li>{@link #rawPool}: {@link SessionPool#append} of the step's tokens and
 *       {@link SessionPool#glimpse} on a pool of its own, called on the benchmark thread: the
 *       binding and {@code ps_session_decode}, no router. The baseline.</li>
 *   <li>{@link #router}: {@code router.append(session, step)} (tokenizes the step and the "\n\n"
 *       delimiter) and {@code router.glimpse(session)} (queued, decoded by the dispatcher thread,
 *       returned as a {@link Decision}), the router built with {@code maxWait} = 0: the dispatcher
 *       decodes a lone request at once.</li>
 *   <li>{@link #routerDefaultWait}: the same with the builder's default {@code maxWait} (200 µs):
 *       the dispatcher waits that long after a request for others to batch with it, so a lone
 *       glimpse pays it in full.</li>
 * </ul>
 * Target: the router's overhead (router − rawPool, at p50 and at p99) at most 5% or 50 µs.
 *
 * <p>The context does not grow: each path holds a base session of {@code contextTokens} tokens
 * (the bundled text), decoded once in setup. Before every invocation (untimed,
 * {@code @Setup(Level.Invocation)}) it forks the base (the fork shares the base's KV cells) and
 * after it (untimed) closes the fork, so every timed glimpse decodes the same step tokens at the
 * same positions, {@code contextTokens} onwards. Both paths append exactly the same tokens:
 * {@code model.tokenize(step + "\n\n", false, false)}, what {@code router.append} appends.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 2, time = 5)
public class GlimpseLatencyBenchmark {

    /** qwen2 (the 151,936-token fixture), tiny, or a GGUF path. */
    @Param({"qwen2", "tiny"})
    public String model;

    /** Tokens in the base session's context. */
    @Param({"256"})
    public int contextTokens;

    /** The step appended before each glimpse (followed by the "\n\n" delimiter). */
    @Param({"Then we add the two numbers and check the result."})
    public String step;

    /** The router's contextSize (KV cells shared by the base and the fork). */
    @Param({"1024"})
    public int kvSize;

    /** The router's batchSize (also the micro-batch). */
    @Param({"512"})
    public int batch;

    /** Threads for llama.cpp and the reduction; 0 = all cores. */
    @Param({"0"})
    public int threads;

    /** Base + one fork. */
    static final int SESSIONS = 2;

    EngineOptions engineOptions() { // what GlimpRouter builds from the same settings
        return EngineOptions.defaults().withContextSize(kvSize).withMaxSequences(SESSIONS).withThreads(threads).withBatchSize(batch)
                .withMicroBatchSize(batch);
    }

    GlimpRouter router(Model m, Duration maxWait) {
        GlimpRouter.Builder b = GlimpRouter.builder(m).maxSessions(SESSIONS).contextSize(kvSize).batchSize(batch).threads(threads);
        return (maxWait == null ? b : b.maxWait(maxWait)).build();
    }

    void describe(String what, Model m, int stepTokens, EngineOptions effective) {
        System.out.printf("%n# panscore glimpse latency (%s): %s, vocabulary %,d; engine %s; base context %d tokens, step %d tokens%n",
                what, m.path(), m.info().vocabSize(), effective, contextTokens, stepTokens);
    }

    /** The baseline: a session pool without the router. */
    @State(Scope.Benchmark)
    public static class RawPool {
        Model loaded;
        SessionPool pool;
        SessionPool.Session base;
        SessionPool.Session work;
        int[] stepTokens;

        @Setup(Level.Trial)
        public void setUp(GlimpseLatencyBenchmark b) {
            loaded = Model.load(BenchModels.path(b.model));
            pool = new SessionPool(loaded, b.engineOptions(), GlimpRouter.TOP_K);
            stepTokens = loaded.tokenize(b.step + "\n\n", false, false);
            base = pool.open(BenchInputs.tokens(loaded, b.contextTokens));
            pool.glimpse(List.of(base));
            b.describe("raw pool", loaded, stepTokens.length, pool.options());
        }

        @Setup(Level.Invocation)
        public void fork() {
            work = pool.fork(base);
        }

        @TearDown(Level.Invocation)
        public void closeFork() {
            pool.close(work);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (pool != null) {
                pool.close();
            }
            if (loaded != null) {
                loaded.close();
            }
        }
    }

    /** A router on a model of its own; {@code maxWait} null = the builder's default. */
    abstract static class RouterState {
        Model loaded;
        GlimpRouter router;
        GlimpRouter.RouterSession base;
        GlimpRouter.RouterSession work;

        void open(GlimpseLatencyBenchmark b, Duration maxWait, String what) {
            loaded = Model.load(BenchModels.path(b.model));
            router = b.router(loaded, maxWait);
            base = router.open(BenchInputs.tokens(loaded, b.contextTokens));
            router.glimpse(base);
            b.describe(what, loaded, loaded.tokenize(b.step + "\n\n", false, false).length, b.engineOptions());
        }

        void close() {
            if (router != null) {
                router.close();
            }
            if (loaded != null) {
                loaded.close();
            }
        }
    }

    @State(Scope.Benchmark)
    public static class NoWaitRouter extends RouterState {
        @Setup(Level.Trial)
        public void setUp(GlimpseLatencyBenchmark b) {
            open(b, Duration.ZERO, "router, maxWait 0");
        }

        @Setup(Level.Invocation)
        public void fork() {
            work = router.fork(base);
        }

        @TearDown(Level.Invocation)
        public void closeFork() {
            work.close();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    @State(Scope.Benchmark)
    public static class DefaultWaitRouter extends RouterState {
        @Setup(Level.Trial)
        public void setUp(GlimpseLatencyBenchmark b) {
            open(b, null, "router, default maxWait");
        }

        @Setup(Level.Invocation)
        public void fork() {
            work = router.fork(base);
        }

        @TearDown(Level.Invocation)
        public void closeFork() {
            work.close();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    /** Append the step's tokens and glimpse, on the pool, on this thread. */
    @Benchmark
    public Glimpse rawPool(RawPool s) {
        s.pool.append(s.work, s.stepTokens);
        return s.pool.glimpse(List.of(s.work)).getFirst();
    }

    /** Append the step (text) and glimpse, through the router; the dispatcher does not wait for company. */
    @Benchmark
    public Decision router(NoWaitRouter s) {
        s.router.append(s.work, step);
        return s.router.glimpse(s.work);
    }

    /** The same with the router's default maxWait (200 µs). */
    @Benchmark
    public Decision routerDefaultWait(DefaultWaitRouter s) {
        s.router.append(s.work, step);
        return s.router.glimpse(s.work);
    }
}
