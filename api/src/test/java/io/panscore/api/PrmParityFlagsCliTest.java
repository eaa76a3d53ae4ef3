package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code prm}'s released-code switches, each by its values: {@code --step-prefix} (explicit steps
 * written as "Step i: " + step, joined by "\n\n"), {@code --step-markers} (a response re-split
 * before each "Step N:"), {@code --score-eot} (the end-of-turn token's log-ratio in the last step)
 * and {@code --eval --search-thresholds N} (the threshold i/N with the best F1, the lowest on ties).
 * Expected rewards come from token sequences and step boundaries built here by hand and the float64
 * reference on each model's raw logits; the threshold search is redone here from the written q.
 */
class PrmParityFlagsCliTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final double BETA = 0.5;
    static Model policy;
    static Model reference;
    static Engine policyEngine;
    static Engine referenceEngine;
    static String refPath;

    /** id, prompt, explicit steps (or null), response (when no steps). */
    record Sample(String id, String prompt, List<String> steps, String response) {
        String text() {
            return steps != null ? String.join("", steps) : response;
        }
    }

    static final List<Sample> SAMPLES = List.of(
            new Sample("s0", "Compute x.", List.of("x = 2 + 3.", "So x = 5."), null),
            new Sample("s1", "Double 5.", null, "Step 1: 5 * 2 = 10. Step 2: The answer is 10."),
            new Sample("s2", "Is 91 prime?", List.of("91 = 7 * 13.", "So it is not prime.", "No."), null),
            new Sample("s3", "Add 17 and 25.", null, "Step 1: 17 + 20 = 37.\nStep 2: 37 + 5 = 42.\nStep 3: 42."),
            new Sample("s4", "What is 2 + 2?", List.of("2 + 2 = 5.", "So 5."), null),
            new Sample("s5", "Halve 8.", null, "First, 8 / 2 = 4. Step 2: it is 4."));

    @BeforeAll
    static void open() {
        refPath = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString();
        policy = Model.load(Fixtures.tiny());
        reference = Model.load(Path.of(refPath));
        policyEngine = policy.newEngine(EngineOptions.defaults().withContextSize(512));
        referenceEngine = reference.newEngine(EngineOptions.defaults().withContextSize(512));
    }

    @AfterAll
    static void close() {
        policyEngine.close();
        referenceEngine.close();
        policy.close();
        reference.close();
    }

    private static String jsonl(List<Sample> samples, int[] labels) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < samples.size(); i++) {
            Sample s = samples.get(i);
            ObjectNode o = JSON.createObjectNode().put("id", s.id()).put("problem", "p" + s.id()).put("prompt", s.prompt());
            if (s.steps() != null) {
                s.steps().forEach(o.putArray("steps")::add);
            } else {
                o.put("response", s.response());
            }
            if (labels != null) {
                o.put("label", labels[i]);
            }
            b.append(o).append('\n');
        }
        return b.toString();
    }

    private static List<String> args(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("prm", "--policy", Fixtures.tiny().toString(), "--ref", refPath, "--out", out.toString(), "--ctx", "512",
                "--threads", "2", "--progress", "never", "--template", "none", "--beta", Double.toString(BETA)));
        a.addAll(List.of(more));
        return a;
    }

    private static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /**
     * The expected step rewards r^t: the response text as the released code writes it, its step ends
     * in bytes (found here with indexOf), the end-of-turn token appended when {@code eot}; ℓ from the
     * float64 reference on both models. {@code tol[0]} gets the error bound (kernel 2.4e-6 per |ℓ|).
     */
    static double[] expected(Sample s, boolean prefix, boolean markers, boolean eot, int[] tokens, double[] tol) {
        String text;
        List<Integer> ends = new ArrayList<>();
        if (s.steps() != null && prefix) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < s.steps().size(); i++) {
                b.append("Step ").append(i + 1).append(": ").append(s.steps().get(i));
                if (i + 1 < s.steps().size()) {
                    b.append("\n\n");
                    ends.add(bytes(b.toString()));
                }
            }
            text = b.toString();
        } else if (s.steps() != null) {
            text = s.text();
            int at = 0;
            for (int i = 0; i + 1 < s.steps().size(); i++) {
                at += bytes(s.steps().get(i));
                ends.add(at);
            }
        } else {
            text = s.response();
            if (markers) { // a step ends where the next "Step N:" starts (not at the very start)
                Matcher m = Pattern.compile("Step \\d+:").matcher(text);
                while (m.find()) {
                    if (m.start() > 0) {
                        ends.add(bytes(text.substring(0, m.start())));
                    }
                }
            } // else: no "\n\n" in these responses: one step
        }
        int[] p = policy.tokenize(s.prompt(), true, false);
        int[] r = policy.tokenize(text, false, false);
        int extra = eot ? 1 : 0;
        int[] all = Arrays.copyOf(p, p.length + r.length + extra);
        System.arraycopy(r, 0, all, p.length, r.length);
        if (eot) {
            all[all.length - 1] = policy.info().eot() >= 0 ? policy.info().eot() : policy.info().eos();
        }
        int[] step = Independent.tokenStepsAt(policy, r, ends.stream().mapToInt(Integer::intValue).toArray());
        int nSteps = ends.size() + 1;
        Sequence seq = Sequence.from(all, p.length);
        ReferenceKernel.Stats[] lp = Independent.reference(policyEngine, seq, 0);
        ReferenceKernel.Stats[] lr = Independent.reference(referenceEngine, seq, 0);
        double[] sums = new double[nSteps];
        for (int i = 0; i < lp.length; i++) {
            int st = i < step.length ? step[i] : nSteps - 1; // the end-of-turn token belongs to the last step
            sums[st] += BETA * (lp[i].logprob() - lr[i].logprob());
            tol[0] += BETA * 2.4e-6 * (2 + Math.abs(lp[i].logprob()) + Math.abs(lr[i].logprob()));
        }
        tokens[0] = lp.length;
        return sums;
    }

    private static void assertRecord(JsonNode n, Sample s, boolean prefix, boolean markers, boolean eot) {
        int[] tokens = new int[1];
        double[] tol = new double[1];
        double[] r = expected(s, prefix, markers, eot, tokens, tol);
        String what = s.id() + (prefix ? " prefix" : "") + (markers ? " markers" : "") + (eot ? " eot" : "");
        assertEquals(tokens[0], n.get("tokens").asInt(), what + ": tokens");
        assertEquals(r.length, n.get("steps").size(), what + ": steps " + n.get("steps"));
        double q = 0;
        for (int i = 0; i < r.length; i++) {
            q += r[i];
            assertEquals(r[i], n.get("steps").get(i).get("r").asDouble(), tol[0], what + ": r " + i);
            assertEquals(q, n.get("steps").get(i).get("q").asDouble(), tol[0], what + ": q " + i);
        }
        assertEquals(q, n.get("reward").asDouble(), tol[0], what + ": reward");
    }

    @Test
    void stepPrefixStepMarkersAndScoreEotEachChangeWhatIsScored(@TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"), jsonl(SAMPLES, null));
        // each switch alone, then all three: every record against the hand-built expectation
        String[][] runs = {{}, {"--step-prefix"}, {"--step-markers"}, {"--score-eot"}, {"--step-prefix", "--step-markers", "--score-eot"}};
        for (String[] flags : runs) {
            List<String> f = List.of(flags);
            Path out = dir.resolve("out-" + String.join("", f).replace("-", "") + ".jsonl");
            CliRun run = CliRun.of(args(out, concat(f, "--in", in.toString())).toArray(String[]::new));
            assertEquals(0, run.status(), f + ": " + run.err());
            List<String> lines = Files.readAllLines(out);
            assertEquals(SAMPLES.size(), lines.size());
            for (int i = 0; i < SAMPLES.size(); i++) {
                assertRecord(JSON.readTree(lines.get(i)), SAMPLES.get(i), f.contains("--step-prefix"), f.contains("--step-markers"), f.contains("--score-eot"));
            }
            JsonNode meta = JSON.readTree(Files.readString(Path.of(out + ".meta.json")));
            assertEquals(f.contains("--step-prefix"), meta.get("step_prefix").asBoolean(), f.toString());
            assertEquals(f.contains("--step-markers"), meta.get("step_markers").asBoolean(), f.toString());
            assertEquals(f.contains("--score-eot"), meta.get("score_eot").asBoolean(), f.toString());
        }
    }

    private static String[] concat(List<String> a, String... b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(List.of(b));
        return all.toArray(String[]::new);
    }

    /** ProcessBench's rule, redone here: the first step with sigmoid(q) below t, or -1. */
    private static int firstError(double[] q, double t) {
        for (int i = 0; i < q.length; i++) {
            if (1 / (1 + Math.exp(-q[i])) < t) {
                return i;
            }
        }
        return -1;
    }

    /** {hits on erroneous, erroneous, hits on correct, correct} at threshold t. */
    private static int[] counts(List<double[]> qs, int[] labels, double t) {
        int[] c = new int[4];
        for (int i = 0; i < qs.size(); i++) {
            int predicted = firstError(qs.get(i), t);
            if (labels[i] < 0) {
                c[3]++;
                c[2] += predicted < 0 ? 1 : 0;
            } else {
                c[1]++;
                c[0] += predicted == labels[i] ? 1 : 0;
            }
        }
        return c;
    }

    private static double f1(int[] c) {
        double e = (double) c[0] / c[1];
        double k = (double) c[2] / c[3];
        return e + k == 0 ? 0 : 2 * e * k / (e + k);
    }

    @Test
    void searchThresholdsReportsTheBestF1OnTheGridLowestOnTies(@TempDir Path dir) throws Exception {
        // the q values of every step, from the records of a plain run
        Path in = Files.writeString(dir.resolve("in.jsonl"), jsonl(SAMPLES, null));
        Path first = dir.resolve("first.jsonl");
        CliRun r1 = CliRun.of(args(first, "--in", in.toString()).toArray(String[]::new));
        assertEquals(0, r1.status(), r1.err());
        List<double[]> qs = new ArrayList<>();
        for (String line : Files.readAllLines(first)) {
            JsonNode steps = JSON.readTree(line).get("steps");
            double[] q = new double[steps.size()];
            for (int i = 0; i < q.length; i++) {
                q[i] = steps.get(i).get("q").asDouble();
            }
            qs.add(q);
        }
        // labels that the default threshold gets partly wrong and some grid point gets better: the
        // first error the rule finds at a threshold between the q's sigmoids, shifted where it can be
        double[] sig = qs.stream().flatMapToDouble(Arrays::stream).map(q -> 1 / (1 + Math.exp(-q))).sorted().toArray();
        double mid = sig[sig.length / 2];
        int[] labels = new int[SAMPLES.size()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = firstError(qs.get(i), mid);
        }
        labels[0] = labels[0] < 0 ? 0 : -1; // one sample no threshold near mid gets right
        int n = 20;
        double bestT = -1;
        int[] bestC = null;
        for (int i = 0; i <= n; i++) {
            int[] c = counts(qs, labels, (double) i / n);
            if (bestC == null || f1(c) > f1(bestC)) {
                bestC = c;
                bestT = (double) i / n;
            }
        }
        assertTrue(bestC[1] > 0 && bestC[3] > 0, "both erroneous and correct samples: " + Arrays.toString(labels));
        assertTrue(bestT > 0 && bestT < 1, "the search must not end at the grid's edge here: " + bestT + " " + Arrays.toString(sig));
        Path eval = Files.writeString(dir.resolve("labelled.jsonl"), jsonl(SAMPLES, labels));
        CliRun r2 = CliRun.of(args(dir.resolve("eval.jsonl"), "--eval", eval.toString(), "--search-thresholds", Integer.toString(n)).toArray(String[]::new));
        assertEquals(0, r2.status(), r2.err());
        String want = String.format(Locale.ROOT, "best threshold of %d: %s (erroneous %d/%d, correct %d/%d, F1 %.4f)", n + 1, bestT, bestC[0], bestC[1], bestC[2],
                bestC[3], f1(bestC));
        assertTrue(r2.out().contains(want), "expected \"" + want + "\" in:\n" + r2.out());
        // without --eval the search is refused with a message naming what it needs
        CliRun bad = CliRun.of(args(dir.resolve("x.jsonl"), "--in", in.toString(), "--search-thresholds", "10").toArray(String[]::new));
        assertEquals(1, bad.status(), bad.out() + bad.err());
        assertTrue(bad.err().contains("--search-thresholds N needs --eval"), bad.err());
    }
}
