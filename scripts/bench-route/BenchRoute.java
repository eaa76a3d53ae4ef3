// Harness for scripts/bench-route.sh (run with: java --source 25 -cp api/target/panscore.jar BenchRoute.java ...).
//   policies SMALL.gguf TEMPLATE LARGE.gguf PROBLEMS.txt THREADS STEP TOTAL ANSWER SEED QUANTILE
//       the routing loop in process, the large model a second local GGUF (LocalStepWriter): a pilot run with every
//       step small gives the glimpse entropies, tau = their QUANTILE; then glimp at tau, small, large, and random at
//       glimp's large step fraction, each over all problems. One "RESULT policy=..." line per policy.
//   inprocess SMALL.gguf LARGE_URL LARGE_NAME PROBLEMS.txt THREADS STEP TOTAL ANSWER SEED TAU TRACES.jsonl
//       glimp at TAU in process, the large model behind an OpenAI-compatible URL (OpenAiStepWriter); traces written
//       to TRACES.jsonl for comparison with the HTTP-driven runs.
// PROBLEMS.txt: one problem (a user turn) per line. Timings are wall clock over all problems, after a warm-up problem.
import io.panscore.api.router.*;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.kernel.*;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;

void main(String[] a) throws Exception {
    switch (a[0]) {
        case "policies" -> policies(Path.of(a[1]), a[2], Path.of(a[3]), Path.of(a[4]), Integer.parseInt(a[5]), options(a, 6), Double.parseDouble(a[10]));
        case "inprocess" -> inprocess(Path.of(a[1]), a[2], a[3], Path.of(a[4]), Integer.parseInt(a[5]), options(a, 6), Double.parseDouble(a[10]), Path.of(a[11]));
        default -> throw new IllegalArgumentException(a[0]);
    }
}

RouteOptions options(String[] a, int at) {
    return RouteOptions.defaults().withMaxStepTokens(Integer.parseInt(a[at])).withMaxTotalTokens(Integer.parseInt(a[at + 1]))
            .withMaxAnswerTokens(Integer.parseInt(a[at + 2])).withSeed(Long.parseLong(a[at + 3]));
}

List<List<ChatMessage>> problems(Path file) throws Exception {
    List<List<ChatMessage>> out = new ArrayList<>();
    for (String l : Files.readAllLines(file)) {
        if (!l.isBlank()) out.add(List.of(new ChatMessage("user", l.strip())));
    }
    return out;
}

/** Totals over a set of problems. */
record Totals(double wallS, int problems, int steps, int largeSteps, long smallTokens, long largeTokens, long answerTokens, long smallDecoded,
        long largeDecoded, List<Double> entropies, List<RoutedTrace> traces) {
    String line(String policy, double tau, double fraction) {
        long generated = smallTokens + largeTokens + answerTokens;
        return String.format(Locale.ROOT,
                "RESULT policy=%s tau=%.4f large_fraction_arg=%.4f wall_s=%.3f problems=%d steps=%d large_steps=%d large_step_fraction=%.4f "
                        + "small_tokens=%d large_tokens=%d answer_tokens=%d large_token_fraction=%.4f small_decoded=%d large_decoded=%d "
                        + "small_decoded_per_small_token=%.3f decoded_per_generated=%.3f ms_per_generated=%.3f",
                policy, tau, fraction, wallS, problems, steps, largeSteps, steps == 0 ? 0 : largeSteps / (double) steps, smallTokens, largeTokens,
                answerTokens, (smallTokens + largeTokens) == 0 ? 0 : largeTokens / (double) (smallTokens + largeTokens), smallDecoded, largeDecoded,
                smallTokens == 0 ? 0 : smallDecoded / (double) smallTokens, generated == 0 ? 0 : (smallDecoded + largeDecoded) / (double) generated,
                generated == 0 ? 0 : wallS * 1000 / generated);
    }
}

Totals run(GlimpRouter router, StepWriter writer, LongSupplier largeDecoded, RouteOptions o, double tau, List<List<ChatMessage>> problems) {
    try (RoutingLoop loop = new RoutingLoop(router, writer, o)) {
        loop.route(problems.getFirst(), o.withMaxTotalTokens(Math.min(8, o.maxTotalTokens())).withMaxAnswerTokens(Math.min(2, o.maxAnswerTokens())), tau); // warm-up
        long s0 = router.decodedTokens();
        long l0 = largeDecoded.getAsLong();
        int steps = 0, larges = 0;
        long st = 0, lt = 0, at = 0;
        List<Double> h = new ArrayList<>();
        List<RoutedTrace> traces = new ArrayList<>();
        long t0 = System.nanoTime();
        for (List<ChatMessage> p : problems) {
            RoutedTrace t = loop.route(p, o, tau);
            traces.add(t);
            for (RoutedTrace.Step s : t.steps()) {
                steps++;
                if (s.model().equals("large")) {
                    larges++;
                    lt += Math.max(0, s.tokens());
                } else {
                    st += s.tokens();
                }
                if (!Double.isNaN(s.entropy())) h.add(s.entropy());
            }
            at += Math.max(0, t.answerTokens());
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        return new Totals(wall, problems.size(), steps, larges, st, lt, at, router.decodedTokens() - s0, largeDecoded.getAsLong() - l0, h, traces);
    }
}

interface LongSupplier {
    long getAsLong();
}

void policies(Path small, String template, Path large, Path problemsFile, int threads, RouteOptions o, double quantile) throws Exception {
    List<List<ChatMessage>> problems = problems(problemsFile);
    ModelOptions mo = ModelOptions.defaults();
    try (Model s = Model.load(small, mo); Model l = Model.load(large, mo);
            GlimpRouter router = GlimpRouter.builder(s).template(PromptTemplate.parse(template)).threads(threads).contextSize(4096).maxSessions(2).build();
            LocalStepWriter writer = new LocalStepWriter(l, PromptTemplate.model(), 1, 4096)) {
        LongSupplier ld = () -> writer.pool().decodedTokens();
        Totals pilot = run(router, writer, ld, o.withPolicy(RoutePolicy.GLIMP), 1e9, problems);
        double[] h = pilot.entropies().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double tau = h[Math.min(h.length - 1, (int) Math.floor(quantile * h.length))];
        System.out.println(String.format(Locale.ROOT, "PILOT entropies=%d min=%.4f median=%.4f max=%.4f tau=%.4f (quantile %.2f)", h.length, h[0], h[h.length / 2],
                h[h.length - 1], tau, quantile));
        Totals glimp = run(router, writer, ld, o.withPolicy(RoutePolicy.GLIMP), tau, problems);
        System.out.println(glimp.line("glimp", tau, Double.NaN));
        Totals sm = run(router, writer, ld, o.withPolicy(RoutePolicy.SMALL), Double.NaN, problems);
        System.out.println(sm.line("small", Double.NaN, Double.NaN));
        Totals lg = run(router, writer, ld, o.withPolicy(RoutePolicy.LARGE), Double.NaN, problems);
        System.out.println(lg.line("large", Double.NaN, Double.NaN));
        double f = glimp.steps() == 0 ? 0 : glimp.largeSteps() / (double) glimp.steps();
        Totals rnd = run(router, writer, ld, o.withPolicy(RoutePolicy.RANDOM).withLargeFraction(f), Double.NaN, problems);
        System.out.println(rnd.line("random", Double.NaN, f));
    }
}

void inprocess(Path small, String url, String name, Path problemsFile, int threads, RouteOptions o, double tau, Path traces) throws Exception {
    List<List<ChatMessage>> problems = problems(problemsFile);
    try (Model s = Model.load(small, ModelOptions.defaults());
            GlimpRouter router = GlimpRouter.builder(s).threads(threads).threshold(tau).contextSize(4096).maxSessions(2).build();
            OpenAiStepWriter writer = new OpenAiStepWriter(url, name, null, Duration.ofMinutes(10))) {
        Totals t = run(router, writer, () -> 0, o.withPolicy(RoutePolicy.GLIMP), tau, problems);
        System.out.println(t.line("glimp-inprocess", tau, Double.NaN));
        StringBuilder sb = new StringBuilder();
        for (RoutedTrace r : t.traces()) {
            sb.append(TraceJson.of(RoutePolicy.GLIMP, tau, r)).append('\n');
        }
        Files.writeString(traces, sb);
    }
}
