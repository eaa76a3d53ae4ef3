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
 * Issue 18: the unified KV cache against per-sequence KV streams on three workloads that batch
 * sequences into one decode, each as a ratio against its unbatched baseline, both layouts side by
 * side. Plain wall-clock timing (best of {@code reps} runs after one warm-up run): the workloads run
 * for seconds to minutes per call, far above timer resolution and JIT warm-up, and JMH forks would
 * multiply the run time on a loaded 2-core machine. The router's glimpse concurrency is
 * GlimpseConcurrencyBenchmark ({@code -p kvCache=UNIFIED,PER_SEQUENCE}).
 *
 * <pre>
 *   java -cp bench/target/benchmarks.jar io.panscore.bench.KvLayoutBenchmark WORKLOAD MODEL [threads] [reps]
 *   WORKLOAD: packing | sharing | generation
 *   MODEL:    qwen2 | tiny | path to a GGUF file
 * </pre>
 * <ul>
 *   <li>packing: 64 sequences of 64..256 tokens (seeded), one Engine.score call (batch 512, 16
 *       sequences per decode) vs one sequence per call; scored tokens/s. Target >= 1.3x.</li>
 *   <li>sharing: 16 responses of 256 tokens after one 512-token prompt, Sequence.sharingPrefix vs
 *       not; response tokens/s. Target >= 1.8x on the Qwen2.5-0.5B shape.</li>
 *   <li>generation: 8 greedy streams of 32 tokens at once (one Generator, 8 sessions) vs one
 *       stream; generated tokens/s. Target >= 3x on the Qwen2.5-0.5B shape.</li>
 * </ul>
 */
public final class KvLayoutBenchmark {

    private KvLayoutBenchmark() {}

    private static final PrintStream OUT = System.out;

    interface Run {
        void run();
    }

    /**
     * Seconds of the best of {@code reps} runs. A first run shorter than 10 s is a warm-up and not
     * counted; a longer one (minutes on the 0.5B shape) counts as the first of the reps.
     */
    private static double best(int reps, Run r) {
        long t0 = System.nanoTime();
        r.run();
        double first = (System.nanoTime() - t0) / 1e9;
        double best = first < 10 ? Double.MAX_VALUE : first;
        for (int i = first < 10 ? 0 : 1; i < reps; i++) {
            t0 = System.nanoTime();
            r.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }

    private static String load() {
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

    private static EngineOptions options(KvCache kv, int perSequence, int sequences, int threads) {
        // PER_SEQUENCE: every slot gets a stream of perSequence cells; UNIFIED: the same total
        return EngineOptions.defaults().withContextSize(perSequence * sequences).withMaxSequences(sequences).withBatchSize(512)
                .withMicroBatchSize(512).withThreads(threads).withKvCache(kv);
    }

    static void packing(Model model, String name, int threads, int reps) {
        Random rnd = new Random(42);
        int[] text = BenchInputs.tokens(model, 1024);
        List<Sequence> seqs = new ArrayList<>();
        long tokens = 0;
        for (int i = 0; i < 64; i++) {
            int len = 64 + rnd.nextInt(193);
            int off = rnd.nextInt(text.length - len);
            seqs.add(Sequence.of(Arrays.copyOfRange(text, off, off + len)));
            tokens += len - 1;
        }
        final long scored = tokens;
        for (KvCache kv : KvCache.values()) {
            String before = load();
            double packed, single;
            try (Engine e = model.newEngine(options(kv, 256, 16, threads))) {
                packed = best(reps, () -> e.score(seqs, ScoreOptions.defaults()));
            }
            try (Engine e = model.newEngine(options(kv, 256, 1, threads))) {
                single = best(reps, () -> {
                    for (Sequence s : seqs) {
                        e.score(List.of(s), ScoreOptions.defaults());
                    }
                });
            }
            report("packing(64 x 64..256 tokens)", name, kv, "tok/s", scored / packed, scored / single, 1.3, before);
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
            double s, u;
            // 17 slots: the prompt holds one while its members copy it; unified: the same cells in all
            try (Engine e = model.newEngine(options(kv, 768, 17, threads))) {
                s = best(reps, () -> e.score(shared, ScoreOptions.defaults()));
                u = best(reps, () -> e.score(unshared, ScoreOptions.defaults()));
            }
            report("sharing(16 x 256 after 512)", name, kv, "resp tok/s", responseTokens / s, responseTokens / u, 1.8, before);
        }
    }

    static void generation(Model model, String name, int threads, int reps) {
        int n = 32;
        int streams = 8;
        int[] text = BenchInputs.tokens(model, 64 * streams);
        for (KvCache kv : KvCache.values()) {
            String before = load();
            double batched, single;
            try (SessionPool pool = new SessionPool(model, options(kv, 256, streams, threads), 0); Generator gen = new Generator(pool)) {
                batched = best(reps, () -> {
                    List<SessionPool.Session> opened = new ArrayList<>();
                    List<Generator.Handle> handles = new ArrayList<>();
                    for (int i = 0; i < streams; i++) {
                        SessionPool.Session s = pool.open(Arrays.copyOfRange(text, 64 * i, 64 * i + 64));
                        opened.add(s);
                        handles.add(gen.submit(s, GenerateOptions.greedy(n).withStopAtEndOfGeneration(false), null));
                    }
                    for (Generator.Handle h : handles) {
                        try {
                            h.await();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }
                    opened.forEach(pool::close);
                });
                single = best(reps, () -> {
                    SessionPool.Session s = pool.open(Arrays.copyOf(text, 64));
                    gen.generate(s, GenerateOptions.greedy(n).withStopAtEndOfGeneration(false));
                    pool.close(s);
                });
            }
            report("generation(8 streams vs 1, 32 tokens)", name, kv, "tok/s", streams * n / batched, n / single, 3.0, before);
        }
    }

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: KvLayoutBenchmark packing|sharing|generation MODEL [threads] [reps]");
            System.exit(2);
        }
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        try (Model model = Model.load(BenchModels.path(args[1]))) {
            String name = args[1];
            switch (args[0]) {
                case "packing" -> packing(model, name, threads, reps);
                case "sharing" -> sharing(model, name, threads, reps);
                case "generation" -> generation(model, name, threads, reps);
                default -> throw new IllegalArgumentException("unknown workload " + args[0]);
            }
        }
    }
}
