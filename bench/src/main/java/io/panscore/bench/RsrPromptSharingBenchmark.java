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
 * Offline RSR scoring, part (b): N responses sampled for one prompt (the usual RSR data set shape),
 * scored in one {@link Engine#score} call with and without declaring the shared prompt:
 * <ul>
 *   <li>{@link #shared}: {@code Sequence.from(tokens, prompt).sharingPrefix(1, prompt)}: the engine
 *       decodes the prompt once and copies its KV entries to every response (what
 *       {@code TrajectoryScorer} does by itself for identical prompts in a chunk);</li>
 *   <li>{@link #unshared}: {@code Sequence.from(tokens, prompt)}: every response decodes the
 *       prompt again.</li>
 * </ul>
 * Same engine (options), same sequences, same scored positions (the response tokens); setup checks
 * that the two give the same statistics. The number to read is {@code scoredTokens}: scored
 * (response) tokens per second. Target: shared / unshared >= 1.8.
 *
 * <p>Where the gain comes from: llama.cpp computes the output layer only for rows whose logits are
 * asked for, so an unscored prompt token costs the transformer body only. Sharing saves
 * {@code (responses - 1) x (promptTokens - 1)} body-only tokens and the attention over them; the
 * ratio is therefore large for models whose body dominates (real LLMs) and small for models whose
 * output layer dominates (the Qwen2 fixture: d=256, 4 layers, a 151,936-row output matrix). Setup
 * prints the tokens each variant decodes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 5)
public class RsrPromptSharingBenchmark {

    /** qwen2 (the 151,936-token fixture), tiny, or a GGUF path. */
    @Param({"qwen2"})
    public String model;

    /** Responses per prompt. */
    @Param({"16"})
    public int responses;

    /** Prompt length in tokens. */
    @Param({"512"})
    public int promptTokens;

    /** Response length in tokens (all scored). */
    @Param({"128"})
    public int responseTokens;

    /** EngineOptions.contextSize; must hold the prompt plus every response (shared) with a margin. */
    @Param({"4096"})
    public int context;

    /** EngineOptions.maxSequences; at least responses + 1 (the shared prompt holds a slot of its own). */
    @Param({"17"})
    public int maxSequences;

    /** EngineOptions.batchSize and microBatchSize. */
    @Param({"512"})
    public int batch;

    /** Threads for llama.cpp and the reduction; 0 = all cores. */
    @Param({"0"})
    public int threads;

    /** Seed of the response offsets in the text. */
    @Param({"42"})
    public long seed;

    private Model loaded;
    private Engine engine;
    private List<Sequence> sharedSeqs;
    private List<Sequence> unsharedSeqs;
    private long scoredPerInvocation;

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Scored (response) positions. */
        public long scoredTokens;

        @Setup(Level.Iteration)
        public void reset() {
            scoredTokens = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        if (context < promptTokens + responses * responseTokens) {
            throw new IllegalArgumentException("context " + context + " cannot hold the prompt and every response ("
                    + (promptTokens + responses * responseTokens) + " tokens)");
        }
        Path path = BenchModels.path(model);
        loaded = Model.load(path);
        List<int[]> seqs = promptAndResponses(loaded, responses, promptTokens, responseTokens, seed);
        sharedSeqs = new ArrayList<>();
        unsharedSeqs = new ArrayList<>();
        for (int[] tokens : seqs) {
            Sequence plain = Sequence.from(tokens, promptTokens);
            unsharedSeqs.add(plain);
            sharedSeqs.add(plain.sharingPrefix(1, promptTokens));
        }
        scoredPerInvocation = (long) responses * responseTokens;
        engine = loaded.newEngine(EngineOptions.defaults().withContextSize(context).withBatchSize(batch).withMicroBatchSize(batch)
                .withMaxSequences(maxSequences).withThreads(threads));
        crossCheck();
        // what the engine decodes (engine.cpp plan_sequences): a shared group decodes prompt - 1
        // tokens once, then each member its last prompt token and response tokens but the last
        long unsharedDecoded = (long) responses * (promptTokens + responseTokens - 1);
        long sharedDecoded = (promptTokens - 1) + (long) responses * responseTokens;
        System.out.printf("%n# panscore RSR prompt sharing: %s, vocabulary %,d; engine %s; %d responses x %d tokens after a %d-token "
                        + "prompt: %,d scored tokens per invocation; tokens decoded: shared %,d, unshared %,d (%.2fx)%n",
                path, loaded.info().vocabSize(), engine.options(), responses, responseTokens, promptTokens, scoredPerInvocation,
                sharedDecoded, unsharedDecoded, (double) unsharedDecoded / sharedDecoded);
    }

    /** One prompt (the start of the bundled text) followed by each response (a slice at a seeded offset). */
    static List<int[]> promptAndResponses(Model model, int responses, int promptTokens, int responseTokens, long seed) {
        int[] text = BenchInputs.tokens(model, Math.max(promptTokens + 8 * responseTokens, 4096));
        int[] prompt = Arrays.copyOf(text, promptTokens);
        SplittableRandom random = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>(responses);
        for (int i = 0; i < responses; i++) {
            int offset = promptTokens + random.nextInt(text.length - promptTokens - responseTokens + 1);
            int[] tokens = Arrays.copyOf(prompt, promptTokens + responseTokens);
            System.arraycopy(text, offset, tokens, promptTokens, responseTokens);
            out.add(tokens);
        }
        return out;
    }

    /** Two responses, shared and unshared, must give the same statistics (also a warm-up). */
    private void crossCheck() {
        int n = Math.min(2, responses);
        List<TokenScores> a = engine.score(sharedSeqs.subList(0, n), ScoreOptions.defaults());
        List<TokenScores> b = engine.score(unsharedSeqs.subList(0, n), ScoreOptions.defaults());
        for (int i = 0; i < n; i++) {
            Checks.sameScores("response " + i + " shared vs unshared", a.get(i), b.get(i), 1e-3);
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

    /** The prompt decoded once, its KV entries shared. */
    @Benchmark
    public List<TokenScores> shared(Counters counters) {
        List<TokenScores> out = engine.score(sharedSeqs, ScoreOptions.defaults());
        counters.scoredTokens += scoredPerInvocation;
        return out;
    }

    /** The prompt decoded again for every response. */
    @Benchmark
    public List<TokenScores> unshared(Counters counters) {
        List<TokenScores> out = engine.score(unsharedSeqs, ScoreOptions.defaults());
        counters.scoredTokens += scoredPerInvocation;
        return out;
    }
}
