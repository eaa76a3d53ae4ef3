package io.panscore.bench;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
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
 * Scoring throughput, three ways over the same model, token sequence and engine options, in one run
 * (JMH runs each method in its own fork, one after the other, so they never compete for the cores):
 * <ul>
 *   <li>{@link #forwardOnly}: llama_decode asking for the logits of every scored position and
 *       computing no statistics (panscore's {@code ps_forward}). The ceiling: nothing that needs
 *       every logits row can be faster than producing them.</li>
 *   <li>{@link #fused}: {@link Engine#score}, the product: each logits row is reduced to logprob,
 *       entropy, rank, argmax (and top-k) inside llama.cpp's graph callback, multi-threaded, and no
 *       row leaves native code. Target: at least 0.85 x forwardOnly.</li>
 *   <li>{@link #naiveCopyToJava}: {@link Engine#logits} (every row copied out of llama.cpp into a
 *       Java {@code float[]}) followed by {@link NaiveJavaStats}, a reasonable single-threaded Java
 *       reduction: what a user without panscore would write. Target: fused at least 5 x this.</li>
 * </ul>
 *
 * <p>Throughput unit. The primary score is invocations per second; the number to read is the
 * secondary result {@code scoredTokens} (scored positions per second). {@code tokens} is a
 * {@code @Param}, and {@code @OperationsPerInvocation} only takes a compile-time constant, so the
 * tokens are counted with a JMH {@link AuxCounters} state of type OPERATIONS, which JMH divides by
 * the iteration's time exactly like the primary score: {@code scoredTokens = tokens x ops/s}.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar
 * ScoringBenchmark -p threads=2 -p ubatch=512} (see docs/BENCHMARKS.md).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 10)
public class ScoringBenchmark {

    /** GGUF model path; "" = the 151,936-token Qwen2 fixture model (written on first use). */
    @Param({""})
    public String model;

    /** Most tokens per llama_decode (EngineOptions.batchSize); the context is max(tokens + 1, batch). */
    @Param({"512"})
    public int batch;

    /** Most tokens computed at once (EngineOptions.microBatchSize, at most batch). */
    @Param({"512"})
    public int ubatch;

    /** Threads for the forward pass and the fused reduction; 0 = all cores. */
    @Param({"0"})
    public int threads;

    /** Top-k ids and log-probs per position (fused and naive); 0 = none. */
    @Param({"0"})
    public int topK;

    /** Scored positions per invocation: one sequence of tokens + 1 tokens, positions [1, tokens + 1). */
    @Param({"512"})
    public int tokens;

    /** Whether the fused path stops llama.cpp copying every logits row into its output buffer. */
    @Param({"true"})
    public boolean skipLogitsCopy;

    private Model loaded;
    private Engine engine;
    private List<Sequence> seqs;
    private int[] targets;
    private int vocab;
    private ScoreOptions scoreOptions;

    /** Scored positions, counted per invocation and reported by JMH per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long scoredTokens;

        @Setup(Level.Iteration)
        public void reset() {
            scoredTokens = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        Path path = BenchInputs.modelPath(model);
        loaded = Model.load(path);
        vocab = loaded.info().vocabSize();
        // The context holds the sequence (tokens + 1) and at least one batch: the engine caps the
        // batch to the context, and a micro-batch larger than the capped batch is refused.
        EngineOptions options = EngineOptions.defaults()
                .withContextSize(Math.max(tokens + 1, batch))
                .withBatchSize(batch)
                .withMicroBatchSize(ubatch)
                .withMaxSequences(1)
                .withThreads(threads)
                .withSkipLogitsCopy(skipLogitsCopy);
        int[] ids = BenchInputs.tokens(loaded, tokens + 1);
        seqs = List.of(Sequence.of(ids));
        targets = Arrays.copyOfRange(ids, 1, ids.length);
        scoreOptions = ScoreOptions.defaults().withTopK(topK);
        crossCheck(options);
        engine = loaded.newEngine(options);
        System.out.printf("%n# panscore: %s, vocabulary %,d, %d layers; engine %s; %d scored tokens per invocation%n",
                path, vocab, loaded.info().layers(), engine.options(), tokens);
    }

    /**
     * Runs the fused and the naive path once and insists they agree, so the two measure the same
     * work (and a broken naive implementation cannot flatter the ratio).
     *
     * <p>Each path gets its own short-lived engine: with skipLogitsCopy on, calling score, then
     * forward or logits, then score again on one engine aborts the JVM in this llama.cpp
     * ("llama_sampler_chain_backend_init() called twice": the skip-copy sampler chains are
     * re-attached). The measured engine only ever runs one of the three paths.
     */
    private void crossCheck(EngineOptions options) {
        TokenScores fast;
        try (Engine e = loaded.newEngine(options)) {
            fast = e.score(seqs, scoreOptions).getFirst();
        }
        TokenScores slow;
        try (Engine e = loaded.newEngine(options)) {
            slow = naive(e);
        }
        if (!Arrays.equals(fast.topIds(), slow.topIds())) {
            throw new IllegalStateException("fused and naive top-" + topK + " ids disagree");
        }
        for (int i = 0; i < tokens; i++) {
            boolean ok = fast.argmax()[i] == slow.argmax()[i]
                    && Math.abs(fast.rank()[i] - slow.rank()[i]) <= 1
                    && Math.abs(fast.logprob()[i] - slow.logprob()[i]) <= 1e-3 * Math.max(1, Math.abs(slow.logprob()[i]))
                    && Math.abs(fast.entropy()[i] - slow.entropy()[i]) <= 1e-3 * Math.max(1, slow.entropy()[i]);
            if (!ok) {
                throw new IllegalStateException(String.format(
                        "fused and naive statistics disagree at position %d: logprob %g vs %g, entropy %g vs %g, "
                                + "rank %d vs %d, argmax %d vs %d", i + 1, fast.logprob()[i], slow.logprob()[i],
                        fast.entropy()[i], slow.entropy()[i], fast.rank()[i], slow.rank()[i], fast.argmax()[i],
                        slow.argmax()[i]));
            }
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

    /** (a) The ceiling: logits for every scored position, no statistics. Returns the rows asked for. */
    @Benchmark
    public int forwardOnly(Counters counters) {
        engine.forward(seqs);
        counters.scoredTokens += tokens;
        return tokens;
    }

    /** (b) The product: fused in-graph reduction, no logits row leaves native code. */
    @Benchmark
    public List<TokenScores> fused(Counters counters) {
        List<TokenScores> out = engine.score(seqs, scoreOptions);
        counters.scoredTokens += tokens;
        return out;
    }

    /** (c) Copy every row into a Java float[], then reduce it in single-threaded Java. */
    @Benchmark
    public TokenScores naiveCopyToJava(Counters counters) {
        TokenScores out = naive(engine);
        counters.scoredTokens += tokens;
        return out;
    }

    private TokenScores naive(Engine on) {
        float[] logits = on.logits(seqs); // tokens x vocab floats: 311 MB at 512 x 151,936
        return NaiveJavaStats.score(logits, vocab, targets, (float) (1.0 / scoreOptions.temperature()), topK);
    }
}
