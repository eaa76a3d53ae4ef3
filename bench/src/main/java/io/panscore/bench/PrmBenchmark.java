package io.panscore.bench;

import io.panscore.api.prm.PrmOptions;
import io.panscore.api.prm.PrmScorer;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryBatch;
import io.panscore.api.trajectory.TrajectoryEncoder;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.Sequence;
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
 * Implicit PRM (SPEC §4): {@link PrmScorer} scoring {@code responses} responses per problem under
 * the policy and the reference model, with and without shared prompts, and where the time goes.
 * <ul>
 *   <li>{@link #sharedPrompts}: every response of a problem has the same prompt, so
 *       {@code TrajectoryBatch.sequences} declares it shared and each engine decodes it once per
 *       problem;</li>
 *   <li>{@link #distinctPrompts}: the same trajectories except that each prompt carries its own
 *       number (the same number of digit tokens, so the same length), so nothing is shared and each
 *       engine decodes every prompt;</li>
 *   <li>{@link #forwardOnlyPolicy}: {@link Engine#forward} (llama_decode with every scored row's
 *       logits, no statistics) of the policy model on exactly the sequences {@code sharedPrompts}
 *       scores, on an engine of its own: the decode alone, so that
 *       {@code 1 - forward / policy} is the share of the policy's time spent on panscore's
 *       reduction and unpacking.</li>
 * </ul>
 * Counters: {@code pairs} (responses scored by both models per second) and {@code scoredTokens}
 * (response tokens per second, per model) are OPERATIONS counters; {@code policyNanos},
 * {@code referenceNanos}, {@code restNanos} ({@link PrmScorer#timings()}: the policy's and the
 * reference's score calls, and the rest: encoding and step rewards), {@code forwardNanos} and
 * {@code timedPairs} are EVENTS counters (sums), read as ratios of one another.
 *
 * <p>Policy = the fixture named by {@code model}; reference = {@code reference}, by default the
 * same fixture with weight seed 7 (same vocabulary). Prompt and responses are the bundled text
 * (prompt template "none", so no chat template is involved); responses split into steps on "\n\n".
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 2, time = 5)
public class PrmBenchmark {

    /** Policy model: qwen2 (the 151,936-token fixture), tiny, or a GGUF path. */
    @Param({"qwen2"})
    public String model;

    /** Reference model; "" = the policy fixture with seed 7 (required when model is a path). */
    @Param({""})
    public String reference;

    /** Problems per invocation. */
    @Param({"1"})
    public int problems;

    /** Responses per problem. */
    @Param({"16"})
    public int responses;

    /** Prompt length in tokens of bundled text (plus a 4-digit problem number and the model's BOS, if any). */
    @Param({"512"})
    public int promptTokens;

    /** Response length, tokens of bundled text (re-tokenized from text, so about this many). */
    @Param({"128"})
    public int responseTokens;

    /** PrmOptions.chunkSize: trajectories per native call on each model. */
    @Param({"64"})
    public int chunk;

    /** EngineOptions.contextSize of both engines. */
    @Param({"4096"})
    public int context;

    /** EngineOptions.maxSequences; responses + 1 lets a shared prompt keep a slot while every response decodes. */
    @Param({"17"})
    public int maxSequences;

    /** EngineOptions.batchSize and microBatchSize. */
    @Param({"512"})
    public int batch;

    /** Threads for llama.cpp and the reduction; 0 = all cores. */
    @Param({"0"})
    public int threads;

    @Param({"42"})
    public long seed;

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        /** Responses scored under both models. */
        public long pairs;
        /** Response tokens scored (under each model). */
        public long scoredTokens;

        @Setup(Level.Iteration)
        public void reset() {
            pairs = 0;
            scoredTokens = 0;
        }
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Time {
        public long policyNanos;
        public long referenceNanos;
        public long restNanos;
        public long forwardNanos;
        /** Responses behind the nanos above. */
        public long timedPairs;

        @Setup(Level.Iteration)
        public void reset() {
            policyNanos = 0;
            referenceNanos = 0;
            restNanos = 0;
            forwardNanos = 0;
            timedPairs = 0;
        }
    }

    /** Both models, their engines and one scorer. */
    @State(Scope.Benchmark)
    public static class Scoring {
        Model policy;
        Model ref;
        Engine policyEngine;
        Engine refEngine;
        PrmScorer scorer;
        List<Trajectory> shared;
        List<Trajectory> distinct;
        long responseTokens;

        @Setup(Level.Trial)
        public void setUp(PrmBenchmark b) {
            Path policyPath = BenchModels.path(b.model);
            Path refPath = BenchModels.reference(b.model, b.reference);
            policy = Model.load(policyPath);
            ref = Model.load(refPath);
            policyEngine = policy.newEngine(b.engineOptions());
            refEngine = ref.newEngine(b.engineOptions());
            PrmOptions options = b.prmOptions();
            scorer = new PrmScorer(policyEngine, refEngine, options);
            shared = b.trajectories(policy, true);
            distinct = b.trajectories(policy, false);
            TrajectoryEncoder encoder = new TrajectoryEncoder(policy, options.template());
            long[] sharedCounts = b.check(encoder, shared, true);
            long[] distinctCounts = b.check(encoder, distinct, false);
            if (sharedCounts[0] != distinctCounts[0] || sharedCounts[1] != distinctCounts[1]) {
                throw new IllegalStateException("shared and distinct trajectories differ in length: " + Arrays.toString(sharedCounts)
                        + " vs " + Arrays.toString(distinctCounts));
            }
            responseTokens = sharedCounts[1];
            System.out.printf("%n# panscore PRM: policy %s, reference %s; engines %s; %d problem(s) x %d responses, "
                            + "%,d prompt + %,d response tokens per invocation (per model)%n", policyPath, refPath,
                    policyEngine.options(), b.problems, b.responses, sharedCounts[0], sharedCounts[1]);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            for (AutoCloseable c : new AutoCloseable[] {policyEngine, refEngine, policy, ref}) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }

        int score(List<Trajectory> trajectories, Rates rates, Time time) {
            PrmScorer.Timings before = scorer.timings();
            List<PrmScorer.Outcome> out = scorer.scoreAll(trajectories);
            PrmScorer.Timings after = scorer.timings();
            for (PrmScorer.Outcome o : out) {
                if (o instanceof PrmScorer.Failed f) {
                    throw new IllegalStateException("trajectory " + f.id() + " failed: " + f.message());
                }
            }
            rates.pairs += out.size();
            rates.scoredTokens += responseTokens;
            time.policyNanos += after.policyNanos() - before.policyNanos();
            time.referenceNanos += after.referenceNanos() - before.referenceNanos();
            time.restNanos += after.restNanos() - before.restNanos();
            time.timedPairs += out.size();
            return out.size();
        }
    }

    /** The policy model alone, on an engine that only ever runs forward (see ScoringBenchmark's note). */
    @State(Scope.Benchmark)
    public static class Forward {
        Model policy;
        Engine engine;
        List<Sequence> seqs;
        long responseTokens;

        @Setup(Level.Trial)
        public void setUp(PrmBenchmark b) {
            policy = Model.load(BenchModels.path(b.model));
            engine = policy.newEngine(b.engineOptions());
            TrajectoryEncoder encoder = new TrajectoryEncoder(policy, b.prmOptions().template());
            List<TrajectoryBatch.Item> items = TrajectoryBatch.encode(encoder, b.trajectories(policy, true), 0, engine.options().contextSize());
            seqs = TrajectoryBatch.sequences(items);
            responseTokens = seqs.stream().mapToLong(Sequence::scoredCount).sum();
            if (b.problems * b.responses > b.chunk) {
                throw new IllegalArgumentException("forwardOnlyPolicy forwards every trajectory in one call: problems x responses must be "
                        + "at most chunk, as in one PrmScorer window");
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            if (engine != null) {
                engine.close();
            }
            if (policy != null) {
                policy.close();
            }
        }
    }

    EngineOptions engineOptions() {
        return EngineOptions.defaults().withContextSize(context).withBatchSize(batch).withMicroBatchSize(batch)
                .withMaxSequences(maxSequences).withThreads(threads);
    }

    PrmOptions prmOptions() {
        return PrmOptions.defaults().withTemplate(PromptTemplate.none()).withChunkSize(chunk);
    }

    /**
     * {@code problems x responses} trajectories. Prompt of problem p: "Problem N: " and the first
     * {@code promptTokens} tokens of the bundled text, as text; N = 1000 + p when prompts are shared,
     * a different 4-digit number per response otherwise (Qwen2's pre-tokenizer splits digits, so the
     * token count is the same). Responses: seeded slices of the text, as text.
     */
    List<Trajectory> trajectories(Model m, boolean sharePrompts) {
        int[] text = BenchInputs.tokens(m, Math.max(promptTokens + 8 * responseTokens, 4096));
        String body = m.detokenize(Arrays.copyOf(text, promptTokens), false);
        SplittableRandom random = new SplittableRandom(seed);
        List<Trajectory> out = new ArrayList<>();
        for (int p = 0; p < problems; p++) {
            for (int r = 0; r < responses; r++) {
                int number = 1000 + (sharePrompts ? p : p * responses + r);
                if (number > 9999) {
                    throw new IllegalArgumentException("at most 9000 trajectories");
                }
                int offset = promptTokens + random.nextInt(text.length - promptTokens - responseTokens + 1);
                String response = m.detokenize(Arrays.copyOfRange(text, offset, offset + responseTokens), false);
                out.add(Trajectory.of("p" + p + "-r" + r, "p" + p, "", "Problem " + number + ": " + body, response));
            }
        }
        return out;
    }

    /** Encodes (no decode): all must encode, and share prompts exactly when asked; returns {prompt, response} tokens. */
    long[] check(TrajectoryEncoder encoder, List<Trajectory> trajectories, boolean sharePrompts) {
        List<TrajectoryBatch.Item> items = TrajectoryBatch.encode(encoder, trajectories, 0, context);
        long prompt = 0;
        long response = 0;
        for (TrajectoryBatch.Item it : items) {
            if (!it.ok()) {
                throw new IllegalStateException("trajectory " + it.trajectory().id() + " cannot be scored: " + it.failure());
            }
            prompt += it.encoded().promptLength();
            response += it.encoded().tokens().length - it.encoded().promptLength();
        }
        for (Sequence s : TrajectoryBatch.sequences(items)) {
            if ((s.prefixGroup() > 0) != sharePrompts) {
                throw new IllegalStateException("prompt sharing is " + (s.prefixGroup() > 0) + ", expected " + sharePrompts);
            }
        }
        return new long[] {prompt, response};
    }

    /** Policy and reference, prompts shared within each problem. */
    @Benchmark
    public int sharedPrompts(Scoring s, Rates rates, Time time) {
        return s.score(s.shared, rates, time);
    }

    /** Policy and reference, every prompt decoded. */
    @Benchmark
    public int distinctPrompts(Scoring s, Rates rates, Time time) {
        return s.score(s.distinct, rates, time);
    }

    /** The policy's decode alone (llama_decode with logits, no statistics) of sharedPrompts' sequences. */
    @Benchmark
    public int forwardOnlyPolicy(Forward f, Rates rates, Time time) {
        long t0 = System.nanoTime();
        f.engine.forward(f.seqs);
        time.forwardNanos += System.nanoTime() - t0;
        time.timedPairs += f.seqs.size();
        rates.pairs += f.seqs.size();
        rates.scoredTokens += f.responseTokens;
        return f.seqs.size();
    }
}
