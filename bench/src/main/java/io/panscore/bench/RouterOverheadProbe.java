package io.panscore.bench;

import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.Model;
import io.panscore.kernel.SessionPool;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * The router's latency overhead on a warm session (issue 18), measured side by side in one run:
 * every iteration times one glimpse straight on a {@link SessionPool} (append the step's tokens,
 * glimpse: the binding and {@code ps_session_decode}, nothing else) and one through a
 * {@link GlimpRouter} built with the same settings and {@code maxWait} 0 (append the step as text,
 * which the router tokenizes, glimpse, decide), alternating which goes first, so both see the same
 * load and the same moments of it. The same step tokens at the same positions every time: each
 * path forks a base session of {@code contextTokens} tokens before the timed part and closes the
 * fork after it (untimed), like {@code GlimpseLatencyBenchmark}. Prints p50/p90/p99/p99.9 of both
 * paths, the overhead at each, and the split of the router's extra work measured apart (tokenizing
 * the step), with the load average and the GC count.
 *
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar io.panscore.bench.RouterOverheadProbe MODEL [threads] [samples]
 * </pre>
 */
public final class RouterOverheadProbe {

    private RouterOverheadProbe() {}

    static final String STEP = "Then we add the two numbers and check the result.";

    private static String load() {
        return KvLayoutBenchmark.load();
    }

    private static long gcs() {
        long n = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, b.getCollectionCount());
        }
        return n;
    }

    private static double pct(long[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)] / 1e3;
    }

    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "tiny";
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int samples = args.length > 2 ? Integer.parseInt(args[2]) : 5000;
        int contextTokens = 256;
        int kvSize = 1024;
        int batch = 512;
        try (Model model = Model.load(BenchModels.path(name));
                GlimpRouter router = GlimpRouter.builder(model).maxSessions(2).contextSize(kvSize).batchSize(batch).threads(threads)
                        .maxWait(Duration.ZERO).build();
                SessionPool pool = new SessionPool(model, io.panscore.kernel.EngineOptions.defaults().withContextSize(kvSize).withMaxSequences(2)
                        .withThreads(threads).withBatchSize(batch).withMicroBatchSize(batch), GlimpRouter.TOP_K)) {
            int[] context = BenchInputs.tokens(model, contextTokens);
            int[] stepTokens = model.tokenize(STEP + "\n\n", false, false);
            SessionPool.Session rawBase = pool.open(context);
            pool.glimpse(List.of(rawBase));
            GlimpRouter.RouterSession routerBase = router.open(context);
            router.glimpse(routerBase);
            long[] raw = new long[samples];
            long[] routed = new long[samples];
            long[] tokenize = new long[samples];
            int warmup = Math.max(500, samples / 5);
            String before = load();
            long gc0 = 0;
            for (int i = -warmup; i < samples; i++) {
                if (i == 0) {
                    gc0 = gcs();
                }
                for (int k = 0; k < 2; k++) {
                    boolean rawTurn = (k == 0) == (i % 2 == 0); // alternate which path goes first
                    if (rawTurn) {
                        SessionPool.Session w = pool.fork(rawBase);
                        long t0 = System.nanoTime();
                        pool.append(w, stepTokens);
                        pool.glimpse(List.of(w));
                        long t = System.nanoTime() - t0;
                        pool.close(w);
                        if (i >= 0) {
                            raw[i] = t;
                        }
                    } else {
                        GlimpRouter.RouterSession w = router.fork(routerBase);
                        long t0 = System.nanoTime();
                        router.append(w, STEP);
                        router.glimpse(w);
                        long t = System.nanoTime() - t0;
                        w.close();
                        if (i >= 0) {
                            routed[i] = t;
                        }
                    }
                }
                if (i >= 0) {
                    long t0 = System.nanoTime();
                    model.tokenize(STEP + "\n\n", false, false);
                    tokenize[i] = System.nanoTime() - t0;
                }
            }
            long gc = gcs() - gc0;
            long[] diff = new long[samples];
            for (int i = 0; i < samples; i++) {
                diff[i] = routed[i] - raw[i];
            }
            Arrays.sort(raw);
            Arrays.sort(routed);
            Arrays.sort(tokenize);
            Arrays.sort(diff);
            System.out.printf("ROUTER-OVERHEAD %s threads %d, %d samples each (interleaved), step %d tokens after %d; load %s -> %s; %d GCs%n",
                    name, threads, samples, stepTokens.length, contextTokens, before, load(), gc);
            System.out.printf("  %-34s %10s %10s %10s %10s%n", "µs", "p50", "p90", "p99", "p99.9");
            System.out.printf("  %-34s %10.1f %10.1f %10.1f %10.1f%n", "raw SessionPool append+glimpse", pct(raw, 50), pct(raw, 90), pct(raw, 99),
                    pct(raw, 99.9));
            System.out.printf("  %-34s %10.1f %10.1f %10.1f %10.1f%n", "GlimpRouter append+glimpse", pct(routed, 50), pct(routed, 90),
                    pct(routed, 99), pct(routed, 99.9));
            System.out.printf("  %-34s %+10.1f %+10.1f %+10.1f %+10.1f%n", "overhead (router - raw percentile)", pct(routed, 50) - pct(raw, 50),
                    pct(routed, 90) - pct(raw, 90), pct(routed, 99) - pct(raw, 99), pct(routed, 99.9) - pct(raw, 99.9));
            System.out.printf("  %-34s %+10.1f %+10.1f %+10.1f %+10.1f%n", "paired difference, same iteration", pct(diff, 50), pct(diff, 90),
                    pct(diff, 99), pct(diff, 99.9));
            System.out.printf("  %-34s %10.1f %10.1f %10.1f %10.1f%n", "of which: tokenizing the step", pct(tokenize, 50), pct(tokenize, 90),
                    pct(tokenize, 99), pct(tokenize, 99.9));
            System.out.printf("  target: router p99 within 1 ms of the raw pool's p99: %s%s%n",
                    pct(routed, 99) - pct(raw, 99) <= 1000 ? "met" : "missed",
                    pct(raw, 99) > 10 * pct(raw, 50) ? " (but the raw p99 is over 10x its p50: scheduling noise, not comparable)" : "");
        }
    }
}
