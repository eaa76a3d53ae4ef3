package io.panscore.bench;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_score_params;
import io.panscore.bindings.ps_token_stats;
import io.panscore.kernel.FusedKernel;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.TokenScores;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * The row reduction alone, on synthetic logits rows (no model): shows whether reducing a
 * 151,936-wide row is cheap next to producing it. Reported as rows per second (the secondary
 * result {@code rows}, an {@link AuxCounters} OPERATIONS counter, for the same reason as in
 * {@link ScoringBenchmark}: {@code rows} is a {@code @Param}).
 * <ul>
 *   <li>{@link #fusedInPlace}: {@code ps_stats_compute} on rows already in native memory, as
 *       {@code Engine.score} runs it on llama.cpp's rows: the kernel itself ({@code threads}
 *       threads). Called through the raw binding, because {@link FusedKernel#compute} takes a
 *       {@code float[]} and copies it into native memory on every call.</li>
 *   <li>{@link #fusedFromJavaArray}: {@link FusedKernel#compute}, the public API: that copy plus the
 *       kernel.</li>
 *   <li>{@link #naiveJava}: {@link NaiveJavaStats} on the same rows, one thread.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 5)
public class RowKernelBenchmark {

    /** Logits per row (the Qwen2 vocabulary by default). */
    @Param({"151936"})
    public int vocab;

    /** Rows per invocation. */
    @Param({"64"})
    public int rows;

    /** Threads for the fused kernel; 0 = all cores. The Java loop is single-threaded. */
    @Param({"0"})
    public int threads;

    /** Top-k per row; 0 = none. */
    @Param({"0"})
    public int topK;

    private float[] logits;
    private int[] targets;
    private ScoreOptions options;

    private Arena arena;
    private MemorySegment nativeLogits;
    private MemorySegment nativeTargets;
    private MemorySegment params;
    private MemorySegment stats;
    private MemorySegment topIds;
    private MemorySegment topLogprobs;

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long rows;

        @Setup(Level.Iteration)
        public void reset() {
            rows = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        // Gaussian logits with a scale like a trained model's (sd 3), seeded: the same rows every run.
        SplittableRandom random = new SplittableRandom(42);
        logits = new float[Math.multiplyExact(rows, vocab)];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (3 * random.nextGaussian());
        }
        targets = new int[rows];
        for (int r = 0; r < rows; r++) {
            targets[r] = random.nextInt(vocab);
        }
        options = ScoreOptions.defaults().withTopK(topK);
        FusedKernel.compute(logits, vocab, targets, options, threads); // loads the native library

        arena = Arena.ofShared();
        nativeLogits = arena.allocateFrom(ValueLayout.JAVA_FLOAT, logits);
        nativeTargets = arena.allocateFrom(ValueLayout.JAVA_INT, targets);
        params = ps_score_params.allocate(arena);
        ps_score_params.temperature(params, 1.0f);
        ps_score_params.top_k(params, topK);
        stats = ps_token_stats.allocateArray(rows, arena);
        topIds = topK > 0 ? arena.allocate(ValueLayout.JAVA_INT, (long) rows * topK) : MemorySegment.NULL;
        topLogprobs = topK > 0 ? arena.allocate(ValueLayout.JAVA_FLOAT, (long) rows * topK) : MemorySegment.NULL;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (arena != null) {
            arena.close();
        }
    }

    /** The kernel on native rows; returns the last row's logprob. */
    @Benchmark
    public float fusedInPlace(Counters counters) {
        int status = panscore_h.ps_stats_compute(nativeLogits, rows, vocab, nativeTargets, params, threads, stats,
                topIds, topLogprobs);
        if (status != 0) {
            throw new IllegalStateException("ps_stats_compute failed: " + panscore_h.ps_last_error().getString(0));
        }
        counters.rows += rows;
        return ps_token_stats.logprob(ps_token_stats.asSlice(stats, rows - 1));
    }

    /** The public API: copies the float[] into native memory, then the kernel. */
    @Benchmark
    public TokenScores fusedFromJavaArray(Counters counters) {
        TokenScores out = FusedKernel.compute(logits, vocab, targets, options, threads);
        counters.rows += rows;
        return out;
    }

    /** Single-threaded Java on the same rows. */
    @Benchmark
    public TokenScores naiveJava(Counters counters) {
        TokenScores out = NaiveJavaStats.score(logits, vocab, targets, 1.0f, topK);
        counters.rows += rows;
        return out;
    }
}
