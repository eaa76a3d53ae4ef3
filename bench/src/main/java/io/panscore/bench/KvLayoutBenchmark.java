package io.panscore.bench;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.EngineOptions.KvCache;
import io.panscore.kernel.GenerateOptions;
import io.panscore.kernel.Generator;
import io.panscore.kernel.Model;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.SessionPool;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Issue 18: the unified KV cache against per-sequence KV streams on workloads that batch sequences
 * into one decode, each as a ratio against its unbatched baseline, both layouts side by side. Plain
 * timing, batched and baseline runs interleaved (a, b, a, b, ...: both see the same load; best of
 * {@code reps} each after one warm-up round): the workloads run for seconds to minutes per call, far
 * above timer resolution and JIT warm-up, and JMH forks would multiply the run time on a loaded
 * 2-core machine. Every result line gives wall-clock rates and the calling thread's CPU time: with
 * {@code threads} 1 llama.cpp computes on the calling thread, so its CPU time is the work itself,
 * which other processes' load barely changes (the generation workload decodes on the Generator's
 * thread: wall time only). The router's glimpse concurrency is GlimpseConcurrencyBenchmark
 * ({@code -p kvCache=UNIFIED,PER_SEQUENCE}).
 *
 * <pre>
 *   java -cp bench/target/benchmarks.jar io.panscore.bench.KvLayoutBenchmark WORKLOAD MODEL [threads] [reps]
 *   WORKLOAD: packing | packing-short | cost | sharing | generation
 *   MODEL:    qwen2 | tiny | path to a GGUF file
 * </pre>
 * <ul>
 *   <li>packing: 64 sequences of 64..256 tokens (seeded), one Engine.score call (batch 512, 16
 *       sequence slots) vs one sequence per call; scored tokens/s. Target >= 1.3x.</li>
 *   <li>packing-short: the same with 64 sequences of 8..32 tokens (lm-eval loglikelihood requests),
 *       where a call's fixed costs weigh most.</li>
 *   <li>cost: what one call costs against its length (one sequence of n tokens per call, and 512 / n
 *       of them in one call, n = 8..512): the fixed and per-token costs that bound packing.</li>
 *   <li>sharing: 16 responses of 256 tokens after one 512-token prompt, Sequence.sharingPrefix vs
 *       not; response tokens/s. Target >= 1.8x on the Qwen2.5-0.5B shape.</li>
 *   <li>generation: 8 greedy streams of 32 tokens at once (one Generator, 8 sessions) vs one
 *       stream; generated tokens/s, once with the 64-token prompts' decoding timed too and once
 *       for the decode phase alone (prompts decoded before the clock starts, llama-bench's "tg").
 *       Target >= 3x on the Qwen2.5-0.5B shape.</li>
 * </ul>
 */
public final class KvLayoutBenchmark {

    private KvLayoutBenchmark() {}

    private static final PrintStream OUT = System.out;

    interface Run {
        void run();
    }

    /**
     * The best of {@code reps} runs that time themselves (seconds, so that they can leave their
     * set-up out). A first run shorter than 10 s is a warm-up and not counted; a longer one (minutes
     * on the 0.5B shape) counts as the first of the reps.
     */
    private static double best(int reps, java.util.function.DoubleSupplier r) {
        double first = r.getAsDouble();
        double best = first < 10 ? Double.MAX_VALUE : first;
        for (int i = first < 10 ? 0 : 1; i < reps; i++) {
            best = Math.min(best, r.getAsDouble());
        }
        return best;
    }

    /**
     * Best wall-clock seconds and best CPU seconds of the calling thread, each the minimum over the
     * timed runs. With one llama.cpp thread (threads 1) the whole decode runs on the calling
     * thread, so its CPU time is the work itself, which other processes' load barely changes (wall
     * time on a loaded machine also holds the time spent waiting for a core).
     */
    record Timed(double wall, double cpu) {}

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    /**
     * Times {@code a} and {@code b} alternately ({@code a, b, a, b, ...}: both see the same load),
     * {@code reps} timed runs each after one warm-up round (the warm-up round counts when it took
     * 10 s or more).
     */
    private static Timed[] pair(int reps, Run a, Run b) {
        double[] wall = {Double.MAX_VALUE, Double.MAX_VALUE};
        double[] cpu = {Double.MAX_VALUE, Double.MAX_VALUE};
        Run[] runs = {a, b};
        int counted = 0;
        for (int round = 0; counted < Math.max(1, reps); round++) {
            double[] w = new double[2];
            double[] c = new double[2];
            for (int k = 0; k < 2; k++) {
                long c0 = THREADS.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                runs[k].run();
                w[k] = (System.nanoTime() - t0) / 1e9;
                c[k] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e9;
            }
            if (round == 0 && Math.max(w[0], w[1]) < 10) {
                continue; // warm-up
            }
            counted++;
            for (int k = 0; k < 2; k++) {
                wall[k] = Math.min(wall[k], w[k]);
                cpu[k] = Math.min(cpu[k], c[k]);
            }
        }
        return new Timed[] {new Timed(wall[0], cpu[0]), new Timed(wall[1], cpu[1])};
    }

    /** The load average (1, 5, 15 min), printed with every number: the machine may be shared. */
    static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException e) {
            return "?";
        }
    }

    private static void report(String workload, String model, KvCache kv, String unit, double batched, double baseline, double target, String loadBefore) {
        OUT.printf("RESULT %s %s %s: batched %.1f %s, baseline %.1f %s, ratio %.2fx (target %.1fx: %s); load %s -> %s%n", workload, model, kv,
                batched, unit, baseline, unit, batched / baseline, target, batched / baseline >= target ? "met" : "missed", loadBefore, load());
    }

    /** A ratio line with wall-clock and calling-thread CPU rates (see {@link #pair}). */
    private static void report(String workload, String model, KvCache kv, String unit, double work, Timed batched, Timed baseline, double target,
            String loadBefore, int threads) {
        double r = baseline.wall() / batched.wall();
        double rc = baseline.cpu() / batched.cpu();
        OUT.printf("RESULT %s %s %s threads %d: batched %.1f %s, baseline %.1f %s, ratio %.2fx (target %.1fx: %s); "
                + "CPU time of the calling thread: batched %.1f, baseline %.1f %s, ratio %.2fx%s; load %s -> %s%n", workload, model, kv, threads,
                work / batched.wall(), unit, work / baseline.wall(), unit, r, target, r >= target ? "met" : "missed", work / batched.cpu(),
                work / baseline.cpu(), unit, rc, threads == 1 ? "" : " (threads > 1: workers' CPU not counted)", loadBefore, load());
    }

    private static EngineOptions options(KvCache kv, int perSequence, int sequences, int threads) {
        // PER_SEQUENCE: every slot gets a stream of perSequence cells; UNIFIED: the same total
        return EngineOptions.defaults().withContextSize(perSequence * sequences).withMaxSequences(sequences).withBatchSize(512)
                .withMicroBatchSize(512).withThreads(threads).withKvCache(kv);
    }

    /** The unbatched baseline: each sequence in a call of its own. */
    private static void oneByOne(Engine engine, List<Sequence> seqs) {
        for (Sequence s : seqs) {
            engine.score(List.of(s), ScoreOptions.defaults());
        }
    }

    static void packing(Model model, String name, int threads, int reps) {
        packing(model, name, threads, reps, 64, 256);
    }

    /**
     * 64 sequences of {@code min..max} tokens (seeded): one Engine.score call (batch 512, 16
     * sequence slots) against one sequence per call, each on an engine of its own shape; scored
     * tokens/s.
     */
    static void packing(Model model, String name, int threads, int reps, int min, int max) {
        Random rnd = new Random(42);
        int[] text = BenchInputs.tokens(model, 1024);
        List<Sequence> seqs = new ArrayList<>();
        long tokens = 0;
        for (int i = 0; i < 64; i++) {
            int len = min + rnd.nextInt(max - min + 1);
            int off = rnd.nextInt(text.length - len);
            seqs.add(Sequence.of(Arrays.copyOfRange(text, off, off + len)));
            tokens += len - 1;
        }
        final long scored = tokens;
        int perSlot = Math.max(256, max);
        for (KvCache kv : KvCache.values()) {
            String before = load();
            try (Engine packedEngine = model.newEngine(options(kv, perSlot, 16, threads));
                    Engine singleEngine = model.newEngine(options(kv, perSlot, 1, threads))) {
                Timed[] t = pair(reps, () -> packedEngine.score(seqs, ScoreOptions.defaults()), () -> oneByOne(singleEngine, seqs));
                report("packing(64 x " + min + ".." + max + " tokens)", name, kv, "tok/s", scored, t[0], t[1], 1.3, before, threads);
            }
        }
    }

    /**
     * What one Engine.score call costs against its length: one sequence of n tokens per call, and
     * 512 / n sequences of n tokens packed into one call (one decode of 512 tokens), milliseconds
     * per call and per scored token. A straight line through the single-call times, time = F + n x c,
     * splits the fixed cost of a call and decode (F: what packing can save) from the per-token cost
     * (c: what every scored token pays, packed or not).
     */
    static void cost(Model model, String name, int threads, int reps) {
        int[] text = BenchInputs.tokens(model, 1024);
        int[] sizes = {8, 16, 32, 64, 128, 256, 512};
        for (KvCache kv : KvCache.values()) {
            String before = load();
            OUT.printf("COST %s %s (threads %d; load %s)%n", name, kv, threads, before);
            try (Engine one = model.newEngine(options(kv, 512, 1, threads));
                    Engine many = model.newEngine(options(kv, 512, 16, threads))) {
                for (int n : sizes) {
                    List<Sequence> seqs = new ArrayList<>();
                    for (int i = 0; i < 512 / n; i++) {
                        seqs.add(Sequence.of(Arrays.copyOfRange(text, i * 7 % (text.length - n), i * 7 % (text.length - n) + n)));
                    }
                    int calls = seqs.size();
                    Timed[] t = pair(reps, () -> many.score(seqs, ScoreOptions.defaults()), () -> oneByOne(one, seqs));
                    OUT.printf("COST %s %s n=%d: one sequence per call %.3f ms (%.1f us/token; CPU %.3f ms); %d packed in one call %.3f ms "
                            + "(%.1f us/token; CPU %.3f ms), ratio %.2fx (CPU %.2fx); load %s%n", name, kv, n, t[1].wall() * 1e3 / calls,
                            t[1].wall() * 1e6 / calls / (n - 1), t[1].cpu() * 1e3 / calls, calls, t[0].wall() * 1e3,
                            t[0].wall() * 1e6 / (calls * (n - 1L)), t[0].cpu() * 1e3, t[1].wall() / t[0].wall(), t[1].cpu() / t[0].cpu(), load());
                }
            }
        }
    }

    static void sharing(Model model, String name, int threads, int reps) {
        int[] text = BenchInputs.tokens(model, 512 + 16 * 256 + 16);
        int[] prompt = Arrays.copyOf(text, 512);
        List<Sequence> shared = new ArrayList<>();
        List<Sequence> unshared = new ArrayList<>();
        for (int r = 0; r < 16; r++) {
            int[] all = Arrays.copyOf(prompt, 512 + 256);
            System.arraycopy(text, 512 + r * 256, all, 512, 256); // a different response each
            unshared.add(Sequence.from(all, 512));
            shared.add(Sequence.from(all, 512).sharingPrefix(1, 512));
        }
        long responseTokens = 16L * 256;
        for (KvCache kv : KvCache.values()) {
            String before = load();
            // 17 slots: the prompt holds one while its members copy it; unified: the same cells in all
            try (Engine e = model.newEngine(options(kv, 768, 17, threads))) {
                Timed[] t = pair(reps, () -> e.score(shared, ScoreOptions.defaults()), () -> e.score(unshared, ScoreOptions.defaults()));
                report("sharing(16 x 256 after 512)", name, kv, "resp tok/s", responseTokens, t[0], t[1], 1.8, before, threads);
            }
        }
    }

    static void generation(Model model, String name, int threads, int reps) {
        int n = 32;
        int streams = 8;
        int[] text = BenchInputs.tokens(model, 64 * streams);
        for (KvCache kv : KvCache.values()) {
            String before = load();
            double batched, single, batchedDecode, singleDecode;
            try (SessionPool pool = new SessionPool(model, options(kv, 256, streams, threads), 0); Generator gen = new Generator(pool)) {
                batched = best(reps, () -> generate(pool, gen, text, streams, n, false));
                single = best(reps, () -> generate(pool, gen, text, 1, n, false));
                batchedDecode = best(reps, () -> generate(pool, gen, text, streams, n, true));
                singleDecode = best(reps, () -> generate(pool, gen, text, 1, n, true));
            }
            report("generation(8 streams vs 1, 32 tokens, prompts included)", name, kv, "tok/s", streams * n / batched, n / single, 3.0, before);
            report("generation(8 streams vs 1, 32 tokens, decode phase: prompts decoded before the clock)", name, kv, "tok/s", streams * n / batchedDecode,
                    n / singleDecode, 3.0, before);
        }
    }

    /**
     * Opens {@code streams} sessions on 64-token prompts and generates {@code n} greedy tokens in
     * each at once (one Generator: one decode per step for all streams). Returns the seconds from
     * the first submit to the last token: without {@code prefill} they include decoding the prompts
     * (opening a session only queues its tokens; the first generation step decodes them); with it
     * the prompts are decoded first (one glimpse) and only the generation is timed (llama-bench's
     * "tg" rate).
     */
    private static double generate(SessionPool pool, Generator gen, int[] text, int streams, int n, boolean prefill) {
        List<SessionPool.Session> opened = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            opened.add(pool.open(Arrays.copyOfRange(text, 64 * i, 64 * i + 64)));
        }
        if (prefill) {
            pool.glimpse(opened);
        }
        long t0 = System.nanoTime();
        List<Generator.Handle> handles = new ArrayList<>();
        for (SessionPool.Session s : opened) {
            handles.add(gen.submit(s, GenerateOptions.greedy(n).withStopAtEndOfGeneration(false), null));
        }
        for (Generator.Handle h : handles) {
            try {
                h.await();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        long t1 = System.nanoTime();
        opened.forEach(pool::close);
        return (t1 - t0) / 1e9;
    }

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: KvLayoutBenchmark packing|packing-short|cost|sharing|generation MODEL [threads] [reps]");
            System.exit(2);
        }
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        try (Model model = Model.load(BenchModels.path(args[1]))) {
            String name = args[1];
            switch (args[0]) {
                case "packing" -> packing(model, name, threads, reps);
                case "packing-short" -> packing(model, name, threads, reps, 8, 32);
                case "cost" -> cost(model, name, threads, reps);
                case "sharing" -> sharing(model, name, threads, reps);
                case "generation" -> generation(model, name, threads, reps);
                default -> throw new IllegalArgumentException("unknown workload " + args[0]);
            }
        }
    }
}
