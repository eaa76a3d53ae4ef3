package io.panscore.bench;

import io.panscore.api.router.Decision;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Glimpse;
import io.panscore.kernel.Model;
import io.panscore.kernel.SessionPool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * GlimpRouter, part (b): 16 sessions glimpsing at once from 16 threads, against the same glimpses
 * issued one at a time from one thread. Primary score: glimpses per second (JMH sums the threads).
 * <ul>
 *   <li>{@link #concurrent} ({@code @Threads(16)}): each thread owns a session and loops: append a
 *       step, glimpse. The dispatcher gathers the waiting glimpses (up to 16, waiting at most
 *       {@code maxWaitMicros} after the first) into one decode.</li>
 *   <li>{@link #serial} ({@code @Threads(1)}): one thread, the same 16 sessions in turn, the same
 *       step and glimpse, each glimpse decoded alone. Its router has {@code maxWait} = 0, so that
 *       the dispatcher does not wait for company that cannot come (the best case for serial).</li>
 * </ul>
 * Target: concurrent / serial >= 4. For reference, the native ceiling of batching:
 * <ul>
 *   <li>{@link #poolBatch} ({@code @Threads(1)}): no router and no threads: one thread appends the
 *       step to each of the 16 sessions of a {@link SessionPool} (same engine options) and glimpses
 *       all 16 in one {@link SessionPool#glimpse} call, one decode. poolBatch / serial is what
 *       batching can gain on this machine and model; concurrent / poolBatch is what the router's
 *       threads and dispatcher keep of it.</li>
 * </ul>
 *
 * <p>Bounded context: every session is a fork of one base session ({@code contextTokens} tokens of
 * the bundled text, decoded once in setup); after {@code resetEvery} steps a session is closed and
 * forked from the base again, inside the timed loop (a fork and a close are KV bookkeeping, no
 * decoding), in both methods alike. So each session holds between {@code contextTokens} and
 * {@code contextTokens + resetEvery x step} tokens, and both methods glimpse at the same positions.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 2, time = 5)
public class GlimpseConcurrencyBenchmark {

    /** Sessions, and threads of {@link #concurrent} (a JMH @Threads value must be a constant). */
    public static final int SESSIONS = 16;

    /** qwen2 (the 151,936-token fixture), tiny, or a GGUF path. */
    @Param({"qwen2", "tiny"})
    public String model;

    /** Tokens in the base session's context. */
    @Param({"256"})
    public int contextTokens;

    /** The step appended before each glimpse (followed by the "\n\n" delimiter). */
    @Param({"Then we add the two numbers and check the result."})
    public String step;

    /** Steps after which a session is re-forked from the base. */
    @Param({"16"})
    public int resetEvery;

    /** The routers' contextSize: must hold the base and 16 full-grown sessions as the pool counts them. */
    @Param({"8192"})
    public int kvSize;

    /** The routers' batchSize. */
    @Param({"512"})
    public int batch;

    /** Threads for llama.cpp and the reduction; 0 = all cores. */
    @Param({"0"})
    public int threads;

    /** The KV layout of every pool (issue 18): UNIFIED or PER_SEQUENCE (EngineOptions.KvCache). */
    @Param({"UNIFIED"})
    public String kvCache;

    /** The concurrent router's maxWait in µs (the builder's default is 200). */
    @Param({"200"})
    public int maxWaitMicros;

    /**
     * A router with a base session, on a model of its own. Its listener counts the dispatcher's
     * decodes; each iteration ends with a line {@code # dispatcher [METHOD MODEL]: ...} in the log
     * (decodes, glimpses per decode, share of the iteration spent decoding), which
     * scripts/bench-router.sh reports: it tells whether the 16 threads really share decodes.
     */
    abstract static class RouterState {
        Model loaded;
        GlimpRouter router;
        GlimpRouter.RouterSession base;
        String label;
        final AtomicLong batches = new AtomicLong();
        final AtomicLong glimpses = new AtomicLong();
        final AtomicLong decodeNanos = new AtomicLong();
        long iterationStart;

        void resetCounts() {
            batches.set(0);
            glimpses.set(0);
            decodeNanos.set(0);
            iterationStart = System.nanoTime();
        }

        void printCounts() {
            long wall = System.nanoTime() - iterationStart;
            long n = batches.get();
            System.out.printf("%n# dispatcher [%s]: %d decodes, %d glimpses, %.2f glimpses per decode, %.2f ms per decode, "
                            + "decoding %.1f%% of the iteration%n", label, n, glimpses.get(), n == 0 ? 0.0 : (double) glimpses.get() / n,
                    n == 0 ? 0.0 : decodeNanos.get() / 1e6 / n, 100.0 * decodeNanos.get() / wall);
        }

        void open(GlimpseConcurrencyBenchmark b, Duration maxWait, String what, String method) {
            label = method + " " + b.model;
            loaded = Model.load(BenchModels.path(b.model));
            int stepTokens = loaded.tokenize(b.step + "\n\n", false, false).length;
            long need = (SESSIONS + 1L) * (b.contextTokens + (long) b.resetEvery * stepTokens);
            if (need > b.kvSize) {
                throw new IllegalArgumentException("kvSize " + b.kvSize + " < " + need + " tokens that " + SESSIONS
                        + " full-grown sessions and the base hold as the pool counts them");
            }
            router = GlimpRouter.builder(loaded).maxSessions(SESSIONS + 1).maxBatch(SESSIONS).contextSize(b.kvSize).batchSize(b.batch)
                    .threads(b.threads).maxWait(maxWait).kvCache(EngineOptions.KvCache.valueOf(b.kvCache)).listener(new GlimpRouter.Listener() {
                        @Override
                        public void onBatch(int n, long nanos) {
                            batches.incrementAndGet();
                            glimpses.addAndGet(n);
                            decodeNanos.addAndGet(nanos);
                        }
                    }).build();
            base = router.open(BenchInputs.tokens(loaded, b.contextTokens));
            router.glimpse(base);
            System.out.printf("%n# panscore glimpse concurrency (%s): %s, vocabulary %,d; %d sessions forked from a %d-token base, "
                            + "step %d tokens, re-forked every %d steps; kvSize %d, batch %d, threads %d%n", what, loaded.path(),
                    loaded.info().vocabSize(), SESSIONS, b.contextTokens, stepTokens, b.resetEvery, b.kvSize, b.batch, b.threads);
        }

        void close() {
            if (router != null) {
                router.close(); // closes every session
            }
            if (loaded != null) {
                loaded.close();
            }
        }
    }

    @State(Scope.Benchmark)
    public static class ConcurrentRouter extends RouterState {
        @Setup(Level.Trial)
        public void setUp(GlimpseConcurrencyBenchmark b) {
            open(b, Duration.ofNanos(1000L * b.maxWaitMicros), "16 threads, maxWait " + b.maxWaitMicros + " us", "concurrent");
        }

        @Setup(Level.Iteration)
        public void startIteration() {
            resetCounts();
        }

        @TearDown(Level.Iteration)
        public void endIteration() {
            printCounts();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    @State(Scope.Benchmark)
    public static class SerialRouter extends RouterState {
        final GlimpRouter.RouterSession[] sessions = new GlimpRouter.RouterSession[SESSIONS];
        final int[] steps = new int[SESSIONS];
        int next;

        @Setup(Level.Trial)
        public void setUp(GlimpseConcurrencyBenchmark b) {
            open(b, Duration.ZERO, "one thread, maxWait 0", "serial");
            for (int i = 0; i < SESSIONS; i++) {
                sessions[i] = router.fork(base);
            }
        }

        @Setup(Level.Iteration)
        public void startIteration() {
            resetCounts();
        }

        @TearDown(Level.Iteration)
        public void endIteration() {
            printCounts();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            close();
        }
    }

    /** 16 sessions on a pool of their own, without the router. */
    @State(Scope.Benchmark)
    public static class RawPool {
        Model loaded;
        SessionPool pool;
        SessionPool.Session base;
        final List<SessionPool.Session> sessions = new ArrayList<>();
        int[] stepTokens;
        int steps;

        @Setup(Level.Trial)
        public void setUp(GlimpseConcurrencyBenchmark b) {
            loaded = Model.load(BenchModels.path(b.model));
            stepTokens = loaded.tokenize(b.step + "\n\n", false, false);
            // the options GlimpRouter builds from the same settings
            pool = new SessionPool(loaded, EngineOptions.defaults().withContextSize(b.kvSize).withMaxSequences(SESSIONS + 1)
                    .withThreads(b.threads).withBatchSize(b.batch).withMicroBatchSize(b.batch)
                    .withKvCache(EngineOptions.KvCache.valueOf(b.kvCache)), GlimpRouter.TOP_K);
            base = pool.open(BenchInputs.tokens(loaded, b.contextTokens));
            pool.glimpse(List.of(base));
            for (int i = 0; i < SESSIONS; i++) {
                sessions.add(pool.fork(base));
            }
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

    /** One thread's session of {@link #concurrent}. */
    @State(Scope.Thread)
    public static class Mine {
        GlimpRouter.RouterSession session;
        int steps;

        @Setup(Level.Trial)
        public void setUp(ConcurrentRouter r) {
            session = r.router.fork(r.base);
        }
        // no teardown: closing the router closes every session
    }

    @Benchmark
    @Threads(SESSIONS)
    public Decision concurrent(ConcurrentRouter r, Mine me) {
        if (me.steps == resetEvery) {
            me.session.close();
            me.session = r.router.fork(r.base);
            me.steps = 0;
        }
        r.router.append(me.session, step);
        me.steps++;
        return r.router.glimpse(me.session);
    }

    @Benchmark
    @Threads(1)
    public Decision serial(SerialRouter r) {
        int i = r.next;
        r.next = (i + 1) % SESSIONS;
        if (r.steps[i] == resetEvery) {
            r.sessions[i].close();
            r.sessions[i] = r.router.fork(r.base);
            r.steps[i] = 0;
        }
        r.router.append(r.sessions[i], step);
        r.steps[i]++;
        return r.router.glimpse(r.sessions[i]);
    }

    @Benchmark
    @Threads(1)
    @OperationsPerInvocation(SESSIONS)
    public List<Glimpse> poolBatch(RawPool p) {
        if (p.steps == resetEvery) {
            for (int i = 0; i < SESSIONS; i++) {
                p.pool.close(p.sessions.get(i));
                p.sessions.set(i, p.pool.fork(p.base));
            }
            p.steps = 0;
        }
        for (SessionPool.Session s : p.sessions) {
            p.pool.append(s, p.stepTokens);
        }
        p.steps++;
        return p.pool.glimpse(p.sessions);
    }
}
