package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code prm --eval}: ProcessBench's first-error prediction (first step with sigmoid(q) below the
 * threshold) and F1, checked against the same rule computed here from the written q values, and
 * {@code --parity implicitprm}'s switches visible in the output.
 */
class PrmEvalCliTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static List<String> base(Path out) {
        return new ArrayList<>(List.of("prm", "--policy", Fixtures.tiny().toString(), "--ref",
                Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString(), "--out", out.toString(), "--progress", "never"));
    }

    @Test
    void evalReportsProcessBenchF1(@TempDir Path dir) throws Exception {
        String[][] steps = {
            {"17 + 25: 17 + 20 = 37.", "37 + 5 = 42.", "The answer is 42."},
            {"It is 32.", "No wait, it is 42.", "So 42."},
            {"91 = 7 × 13.", "So it is not prime."},
            {"91 is odd.", "It is prime.", "Done."},
            {"2 + 2 = 5.", "So 5."},
            {"Let x = 3.", "Then 2x = 6.", "Answer: 6."}};
        // first pass: the q values of every step, with ProcessBench's β
        StringBuilder plain = new StringBuilder();
        for (int i = 0; i < steps.length; i++) {
            ObjectNode o = JSON.createObjectNode().put("id", "s" + i).put("problem", "p" + i).put("prompt", "Solve problem " + i + ".");
            o.putArray("steps").addAll(java.util.Arrays.stream(steps[i]).map(s -> JSON.getNodeFactory().textNode(s + " ")).toList());
            plain.append(o).append('\n');
        }
        Path in = Files.writeString(dir.resolve("in.jsonl"), plain.toString());
        Path out1 = dir.resolve("first.jsonl");
        List<String> a1 = base(out1);
        a1.addAll(List.of("--in", in.toString(), "--beta", "0.005"));
        CliRun r1 = CliRun.of(a1.toArray(String[]::new));
        assertEquals(0, r1.status(), r1.err());
        List<String> lines = Files.readAllLines(out1);
        // labels: even samples get the predicted first error (hits), odd ones a different label (misses)
        int[] predicted = new int[steps.length];
        StringBuilder labelled = new StringBuilder();
        int erroneous = 0, erroneousHits = 0, correct = 0, correctHits = 0;
        for (int i = 0; i < steps.length; i++) {
            JsonNode rec = JSON.readTree(lines.get(i));
            predicted[i] = -1;
            for (JsonNode st : rec.get("steps")) {
                if (1 / (1 + Math.exp(-st.get("q").asDouble())) < 0.5) {
                    predicted[i] = st.get("index").asInt();
                    break;
                }
            }
            int label = i % 2 == 0 ? predicted[i] : (predicted[i] == -1 ? 0 : -1);
            if (label < 0) {
                correct++;
                correctHits += predicted[i] < 0 ? 1 : 0;
            } else {
                erroneous++;
                erroneousHits += predicted[i] == label ? 1 : 0;
            }
            ObjectNode o = (ObjectNode) JSON.readTree(plain.toString().split("\n")[i]);
            o.put("label", label);
            labelled.append(o).append('\n');
        }
        double accE = (double) erroneousHits / erroneous;
        double accC = (double) correctHits / correct;
        double f1 = accE + accC == 0 ? 0 : 2 * accE * accC / (accE + accC);
        Path eval = Files.writeString(dir.resolve("labelled.jsonl"), labelled.toString());
        List<String> a2 = base(dir.resolve("eval.jsonl"));
        a2.addAll(List.of("--eval", eval.toString(), "--beta", "0.005", "--error-threshold", "0.5"));
        CliRun r2 = CliRun.of(a2.toArray(String[]::new));
        assertEquals(0, r2.status(), r2.err());
        String expected = String.format(Locale.ROOT, "erroneous %d/%d = %.4f, correct %d/%d = %.4f, F1 %.4f", erroneousHits, erroneous, accE, correctHits,
                correct, accC, f1);
        assertTrue(r2.out().contains(expected), "expected \"" + expected + "\" in:\n" + r2.out());

        // --parity implicitprm: "Step i: " prefixes make every response longer, and the end-of-turn token adds one
        Path out3 = dir.resolve("parity.jsonl");
        List<String> a3 = base(out3);
        a3.addAll(List.of("--in", in.toString(), "--parity", "implicitprm"));
        CliRun r3 = CliRun.of(a3.toArray(String[]::new));
        assertEquals(0, r3.status(), r3.err());
        List<String> parity = Files.readAllLines(out3);
        for (int i = 0; i < steps.length; i++) {
            JsonNode p = JSON.readTree(parity.get(i));
            JsonNode q = JSON.readTree(lines.get(i));
            assertEquals(0.001, p.get("beta").asDouble());
            assertEquals(steps[i].length, p.get("steps").size());
            assertTrue(p.get("tokens").asInt() > q.get("tokens").asInt() + steps[i].length, p + " vs " + q);
        }
        CliRun bad = CliRun.of(base(dir.resolve("x.jsonl")).toArray(String[]::new));
        assertEquals(1, bad.status());
        assertTrue(bad.err().contains("--in"), bad.err());
    }
}
