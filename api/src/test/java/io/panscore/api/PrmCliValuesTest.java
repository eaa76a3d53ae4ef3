package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code panscore prm}'s flags, each checked by its values: rewards against β Σ (log π_policy −
 * log π_ref) from the float64 reference (--beta, --ref, --no-ref, --log-ratios, --template none),
 * steps from an independent token-to-step map (--delimiter), the best-of-N choice (--select-best,
 * --agg, --over) and the step filter's counts (--filter-threshold, --filter-mode) recomputed here.
 */
class PrmCliValuesTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static Model policy;
    static Model reference;
    static Engine policyEngine;
    static Engine referenceEngine;
    static String sample;
    static List<Trajectory> trajectories = new ArrayList<>();
    static String refPath;
    /** Per-token error bounds of the last expectedSteps calls, in order. */
    static final List<Double> TOKEN_TOL = new ArrayList<>();

    @BeforeAll
    static void open() throws IOException {
        refPath = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString();
        policy = Model.load(Fixtures.tiny());
        reference = Model.load(Path.of(refPath));
        policyEngine = policy.newEngine(EngineOptions.defaults().withContextSize(1024));
        referenceEngine = reference.newEngine(EngineOptions.defaults().withContextSize(1024));
        try (InputStream in = PrmCliValuesTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            sample = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        new TrajectoryJsonl(new BufferedReader(new StringReader(sample)), e -> {
            throw e;
        }).forEachRemaining(trajectories::add);
    }

    @AfterAll
    static void close() {
        policyEngine.close();
        referenceEngine.close();
        policy.close();
        reference.close();
    }

    /** Expected step rewards r^t (β Σ ℓ over the step's tokens) of a trajectory; ℓ without a reference is log π_policy. */
    static double[] expectedSteps(Trajectory t, double beta, boolean withRef, String delimiter, List<Double> logRatios) {
        return expectedSteps(t, beta, withRef, delimiter, logRatios, new double[1]);
    }

    /**
     * Also returns, in {@code tol[0]}, the bound on the reward's error that the kernel's measured
     * error gives: β Σ 2.4e-6 (1 + |log π|) over both models' tokens (docs/TESTING.md).
     */
    static double[] expectedSteps(Trajectory t, double beta, boolean withRef, String delimiter, List<Double> logRatios, double[] tol) {
        Independent.Tokens tok = Independent.tokensNoTemplate(policy, t);
        ReferenceKernel.Stats[] p = Independent.reference(policyEngine, tok.sequence(), 0);
        ReferenceKernel.Stats[] r = withRef ? Independent.reference(referenceEngine, tok.sequence(), 0) : null;
        int[] step = Independent.tokenSteps(policy, tok.response(), t.response(), delimiter);
        double[] sums = new double[step[step.length - 1] + 1];
        int[] counts = Independent.countsPerStep(step);
        for (int i = 0; i < p.length; i++) {
            double l = p[i].logprob() - (withRef ? r[i].logprob() : 0);
            logRatios.add(l);
            sums[step[i]] += beta * l;
            double tokenTol = 2.4e-6 * (1 + Math.abs(p[i].logprob()) + (withRef ? 1 + Math.abs(r[i].logprob()) : 0));
            TOKEN_TOL.add(tokenTol);
            tol[0] += beta * tokenTol;
        }
        List<Double> out = new ArrayList<>();
        for (int s = 0; s < sums.length; s++) {
            if (counts[s] > 0) {
                out.add(sums[s]);
            }
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static List<String> args(Path in, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("prm", "--policy", Fixtures.tiny().toString(), "--in", in.toString(), "--out", out.toString(),
                "--ctx", "1024", "--threads", "2", "--progress", "never", "--template", "none"));
        a.addAll(List.of(more));
        return a;
    }

    private static Map<String, JsonNode> records(Path out) throws IOException {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(out)) {
            JsonNode n = JSON.readTree(line);
            m.put(n.get("id").asText(), n);
        }
        return m;
    }

    @Test
    void rewardsAggregatesSelectionAndFilterEqualTheReference(@TempDir Path dir) throws IOException {
        double beta = 0.25;
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample);
        // first pass: the expected values, and a filter threshold that keeps some responses and cuts others
        Map<String, double[]> rOf = new LinkedHashMap<>();
        Map<String, List<Double>> ratiosOf = new LinkedHashMap<>();
        Map<String, List<Double>> tokenTolOf = new LinkedHashMap<>();
        Map<String, Double> tolOf = new LinkedHashMap<>();
        List<Double> mins = new ArrayList<>();
        for (Trajectory t : trajectories) {
            List<Double> ratios = new ArrayList<>();
            double[] tol = new double[1];
            TOKEN_TOL.clear();
            double[] r = expectedSteps(t, beta, true, "\n\n", ratios, tol);
            tokenTolOf.put(t.id(), List.copyOf(TOKEN_TOL));
            tolOf.put(t.id(), tol[0]);
            rOf.put(t.id(), r);
            ratiosOf.put(t.id(), ratios);
            mins.add(Arrays.stream(r).min().orElseThrow());
        }
        List<Double> sorted = mins.stream().sorted().toList();
        double threshold = (sorted.get(8) + sorted.get(9)) / 2;

        Path out = dir.resolve("out.jsonl");
        CliRun run = CliRun.of(args(in, out, "--ref", refPath, "--beta", Double.toString(beta), "--delimiter", "\\n\\n", "--log-ratios",
                "--select-best", "--agg", "mean", "--over", "q", "--filter-threshold", Double.toString(threshold), "--filter-mode", "truncate",
                "--chunk", "1").toArray(String[]::new));
        assertEquals(0, run.status(), run.err());
        Map<String, JsonNode> got = records(out);
        assertEquals(rOf.keySet(), got.keySet());
        Map<String, String> bestOf = new TreeMap<>();
        Map<String, Double> bestValue = new TreeMap<>();
        int kept = 0;
        int truncated = 0;
        for (Trajectory t : trajectories) {
            JsonNode n = got.get(t.id());
            double[] r = rOf.get(t.id());
            double tol = tolOf.get(t.id());
            double[] q = r.clone();
            for (int i = 1; i < q.length; i++) {
                q[i] += q[i - 1];
            }
            assertEquals(beta, n.get("beta").asDouble(), 0, t.id());
            assertEquals(q[q.length - 1], n.get("reward").asDouble(), tol, t.id() + " reward = beta * sum of log-ratios");
            List<Double> ratios = ratiosOf.get(t.id());
            assertEquals(ratios.size(), n.get("log_ratios").size(), t.id());
            assertEquals(ratios.size(), n.get("tokens").asInt(), t.id());
            for (int i = 0; i < ratios.size(); i++) {
                assertEquals(ratios.get(i), n.get("log_ratios").get(i).asDouble(), tokenTolOf.get(t.id()).get(i), t.id() + " log-ratio " + i);
            }
            assertEquals(r.length, n.get("steps").size(), t.id() + " steps");
            for (int i = 0; i < r.length; i++) {
                assertEquals(r[i], n.get("steps").get(i).get("r").asDouble(), tol, t.id() + " r " + i);
                assertEquals(q[i], n.get("steps").get(i).get("q").asDouble(), tol, t.id() + " q " + i);
            }
            JsonNode agg = n.get("aggregates");
            assertEquals(Arrays.stream(r).min().orElseThrow(), agg.get("min_r").asDouble(), tol, t.id());
            assertEquals(Arrays.stream(r).average().orElseThrow(), agg.get("mean_r").asDouble(), tol, t.id());
            assertEquals(Arrays.stream(r).sum(), agg.get("sum_r").asDouble(), tol, t.id());
            assertEquals(r[r.length - 1], agg.get("last_r").asDouble(), tol, t.id());
            assertEquals(Arrays.stream(q).min().orElseThrow(), agg.get("min_q").asDouble(), tol, t.id());
            assertEquals(Arrays.stream(q).average().orElseThrow(), agg.get("mean_q").asDouble(), tol, t.id());
            assertEquals(Arrays.stream(q).sum(), agg.get("sum_q").asDouble(), tol * q.length, t.id());
            assertEquals(q[q.length - 1], agg.get("last_q").asDouble(), tol, t.id());
            double meanQ = Arrays.stream(q).average().orElseThrow();
            if (!bestValue.containsKey(t.problem()) || meanQ > bestValue.get(t.problem())) {
                bestValue.put(t.problem(), meanQ);
                bestOf.put(t.problem(), t.id());
            }
            int firstBad = -1;
            for (int i = 0; i < r.length && firstBad < 0; i++) {
                firstBad = r[i] < threshold ? i : -1;
            }
            kept += firstBad != 0 ? 1 : 0;
            truncated += firstBad > 0 ? 1 : 0;
        }
        String text = run.out();
        int best = text.indexOf("best response per problem");
        assertTrue(best >= 0, text);
        for (Map.Entry<String, String> e : bestOf.entrySet()) {
            assertTrue(RsrCliValuesTest.lineWith(text, e.getKey() + " ", best).contains(e.getValue()), e + " in\n" + text);
        }
        Matcher m = Pattern.compile("kept (\\d+) of (\\d+) responses \\((\\d+) truncated\\)").matcher(text);
        assertTrue(m.find(), text);
        assertEquals(List.of(kept, 18, truncated), List.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))));
        assertTrue(truncated > 0 && kept < 18 && kept > truncated, kept + " kept, " + truncated + " truncated: the threshold must split the sample");

        // --filter-mode drop keeps only the responses without a bad step
        CliRun drop = CliRun.of(args(in, dir.resolve("drop.jsonl"), "--ref", refPath, "--beta", Double.toString(beta), "--filter-threshold",
                Double.toString(threshold), "--filter-mode", "drop", "--select-best", "--agg", "min", "--over", "r", "--chunk", "1")
                .toArray(String[]::new));
        assertEquals(0, drop.status(), drop.err());
        // --agg min --over r: per problem the response whose worst step is best (the paper's best-of-N)
        Map<String, String> bestMin = new TreeMap<>();
        Map<String, Double> bestMinValue = new TreeMap<>();
        for (Trajectory t : trajectories) {
            double worst = Arrays.stream(rOf.get(t.id())).min().orElseThrow();
            if (!bestMinValue.containsKey(t.problem()) || worst > bestMinValue.get(t.problem())) {
                bestMinValue.put(t.problem(), worst);
                bestMin.put(t.problem(), t.id());
            }
        }
        int bestAt = drop.out().indexOf("best response per problem");
        assertTrue(bestAt >= 0, drop.out());
        for (Map.Entry<String, String> e : bestMin.entrySet()) {
            assertTrue(RsrCliValuesTest.lineWith(drop.out(), e.getKey() + " ", bestAt).contains(e.getValue()), e + " in\n" + drop.out());
        }
        Matcher d = Pattern.compile("kept (\\d+) of (\\d+) responses \\((\\d+) truncated\\)").matcher(drop.out());
        assertTrue(d.find(), drop.out());
        assertEquals(kept - truncated, Integer.parseInt(d.group(1)));
        assertEquals(0, Integer.parseInt(d.group(3)));
    }

    @Test
    void betaScalesAndNoRefUsesThePolicyAlone(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), String.join("\n", Arrays.copyOf(sample.split("\n"), 3)) + "\n");
        for (double beta : new double[] {1.0, 0.001}) {
            Path out = dir.resolve("noref-" + beta + ".jsonl");
            CliRun r = CliRun.of(args(in, out, "--no-ref", "--beta", Double.toString(beta), "--delimiter", "\\n", "--chunk", "1").toArray(String[]::new));
            assertEquals(0, r.status(), r.err());
            Map<String, JsonNode> got = records(out);
            for (Trajectory t : trajectories.subList(0, 3)) {
                double[] tol = new double[1];
                double[] steps = expectedSteps(t, beta, false, "\n", new ArrayList<>(), tol);
                JsonNode n = got.get(t.id());
                assertEquals(Arrays.stream(steps).sum(), n.get("reward").asDouble(), tol[0], t.id() + " beta " + beta);
                assertEquals(beta, n.get("beta").asDouble(), 0);
                assertEquals(steps.length, n.get("steps").size(), t.id() + ": steps split on single newlines");
            }
        }
        // CSV: the reward column is the same β Σ ℓ
        Path csv = dir.resolve("out.csv");
        CliRun c = CliRun.of(args(in, csv, "--ref", refPath, "--beta", "2", "--chunk", "1").toArray(String[]::new));
        assertEquals(0, c.status(), c.err());
        List<String> rows = Files.readAllLines(csv);
        assertEquals(4, rows.size());
        String[] f = rows.get(1).split(",");
        double[] tol = new double[1];
        double[] steps = expectedSteps(trajectories.getFirst(), 2, true, "\n\n", new ArrayList<>(), tol);
        assertEquals(trajectories.getFirst().id(), f[0]);
        assertEquals(steps.length, Integer.parseInt(f[4]));
        assertEquals(Arrays.stream(steps).sum(), Double.parseDouble(f[5]), tol[0]);
        assertEquals(Arrays.stream(steps).min().orElseThrow(), Double.parseDouble(f[6]), tol[0]);
    }
}
