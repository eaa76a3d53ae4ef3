package io.panscore.bench;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
 * Offline RSR scoring, part (a): many trajectories of mixed lengths packed into as few decodes as
 * fit, against one trajectory per call. Both methods make the same {@link Engine#score} calls on the
 * same engine options and the same {@code trajectories} token sequences; only the grouping differs:
 * <ul>
 *   <li>{@link #packed}: {@code chunk} sequences per call (0 = all in one call); the engine packs
 *       up to {@code maxSequences} of them into each llama_decode of at most {@code batch} tokens;</li>
 *   <li>{@link #onePerCall}: one sequence per call, so one llama_decode per trajectory (every
 *       trajectory is at most {@code batch} tokens long).</li>
 * </ul>
 *
 * <p>One invocation scores the whole set. Trajectory i has a length drawn uniformly from
 * [{@code minTokens}, {@code maxTokens}] (seeded) and is a slice, at a seeded offset, of the bundled
 * text tokenized by the model ({@link BenchInputs}); all its positions after the first are scored,
 * as RSR scores a response. The number to read is the secondary result {@code scoredTokens}
 * (scored positions per second, an {@link AuxCounters} OPERATIONS counter as in
 * {@link ScoringBenchmark}); {@code trajectories} counts trajectories per second the same way.
 *
 * <p>Timing: an invocation takes tens of seconds on the Qwen2 fixture on 2 cores, so the default is
 * one measured iteration of 1 s, which JMH stretches to exactly one invocation (a Throughput
 * iteration ends after the first invocation that finishes past its time); the setup runs a short
 * warm-up call. Setup also checks that packed and one-per-call scoring agree on a few trajectories.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 0)
@Measurement(iterations = 1, time = 1)
public class RsrPackingBenchmark {

    /** qwen2 (the 151,936-token fixture), tiny, or a GGUF path. */
    @Param({"qwen2"})
    public String model;

    /** Trajectories per invocation. */
    @Param({"200"})
    public int trajectories;

    /** Shortest trajectory, in tokens (at least 2). */
    @Param({"16"})
    public int minTokens;

    /** Longest trajectory, in tokens (at most batch, so that one-per-call is one decode per trajectory). */
    @Param({"512"})
    public int maxTokens;

    /** Trajectories per packed call (TrajectoryOptions.chunkSize's default is 64); 0 = all in one call. */
    @Param({"64"})
    public int chunk;

    /** EngineOptions.contextSize: the KV cache shared by the sequences packed together. */
    @Param({"4096"})
    public int context;

    /** EngineOptions.batchSize and microBatchSize. */
    @Param({"512"})
    public int batch;

    /** EngineOptions.maxSequences: most sequences per decode. */
    @Param({"16"})
    public int maxSequences;

    /** Threads for llama.cpp and the reduction; 0 = all cores. */
    @Param({"0"})
    public int threads;

    /** Seed of the lengths and offsets. */
    @Param({"42"})
    public long seed;

    private Model loaded;
    private Engine engine;
    private List<Sequence> all;
    private List<List<Sequence>> chunks;
    private long scoredPerInvocation;

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Scored positions. */
        public long scoredTokens;
        /** Trajectories scored. */
        public long trajectories;

        @Setup(Level.Iteration)
        public void reset() {
            scoredTokens = 0;
            trajectories = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        if (minTokens < 2 || maxTokens < minTokens || maxTokens > batch) {
            throw new IllegalArgumentException("need 2 <= minTokens <= maxTokens <= batch, got " + minTokens + ", " + maxTokens
                    + ", " + batch);
        }
        Path path = BenchModels.path(model);
        loaded = Model.load(path);
        all = trajectories(loaded, trajectories, minTokens, maxTokens, seed);
        scoredPerInvocation = all.stream().mapToLong(Sequence::scoredCount).sum();
        int per = chunk <= 0 ? all.size() : chunk;
        chunks = new ArrayList<>();
        for (int i = 0; i < all.size(); i += per) {
            chunks.add(all.subList(i, Math.min(all.size(), i + per)));
        }
        EngineOptions options = EngineOptions.defaults().withContextSize(context).withBatchSize(batch).withMicroBatchSize(batch)
                .withMaxSequences(maxSequences).withThreads(threads);
        engine = loaded.newEngine(options);
        crossCheck();
        System.out.printf("%n# panscore RSR packing: %s, vocabulary %,d; engine %s; %d trajectories of %d..%d tokens, "
                        + "%,d scored tokens per invocation; packed: %d call(s) of up to %d; one per call: %d calls%n",
                path, loaded.info().vocabSize(), engine.options(), all.size(), minTokens, maxTokens, scoredPerInvocation,
                chunks.size(), per, all.size());
    }

    /** The trajectories: seeded lengths in [min, max], slices of the bundled text at seeded offsets. */
    static List<Sequence> trajectories(Model model, int count, int min, int max, long seed) {
        int[] text = BenchInputs.tokens(model, Math.max(4 * max, 4096));
        SplittableRandom random = new SplittableRandom(seed);
        List<Sequence> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int length = min + random.nextInt(max - min + 1);
            int offset = random.nextInt(text.length - length + 1);
            out.add(Sequence.of(Arrays.copyOfRange(text, offset, offset + length)));
        }
        return out;
    }

    /** The first few trajectories, packed and one by one, must give the same statistics (also a warm-up). */
    private void crossCheck() {
        List<Sequence> few = all.subList(0, Math.min(4, all.size()));
        List<TokenScores> together = engine.score(few, ScoreOptions.defaults());
        for (int i = 0; i < few.size(); i++) {
            TokenScores alone = engine.score(List.of(few.get(i)), ScoreOptions.defaults()).getFirst();
            Checks.sameScores("trajectory " + i + " packed vs alone", together.get(i), alone, 1e-3);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (engine != null) {
            engine.close();
        }
        if (loaded != null) {
            loaded.close();
        }
    }

    /** Every trajectory, {@code chunk} per call. */
    @Benchmark
    public long packed(Counters counters) {
        long rows = 0;
        for (List<Sequence> c : chunks) {
            for (TokenScores s : engine.score(c, ScoreOptions.defaults())) {
                rows += s.size();
            }
        }
        counters.scoredTokens += rows;
        counters.trajectories += all.size();
        return rows;
    }

    /** Every trajectory, one per call. */
    @Benchmark
    public long onePerCall(Counters counters) {
        long rows = 0;
        for (Sequence s : all) {
            rows += engine.score(List.of(s), ScoreOptions.defaults()).getFirst().size();
        }
        counters.scoredTokens += rows;
        counters.trajectories += all.size();
        return rows;
    }
}
