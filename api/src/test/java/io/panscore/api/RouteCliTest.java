package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code panscore route} end to end: traces, line-numbered errors, resume. */
class RouteCliTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static List<JsonNode> read(Path out) throws Exception {
        List<JsonNode> all = new ArrayList<>();
        for (String l : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            all.add(JSON.readTree(l));
        }
        return all;
    }

    /** A trace without its timings (they differ between runs). */
    private static String untimed(JsonNode t) {
        var o = t.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) o).remove("wall_ms");
        for (JsonNode s : o.path("steps")) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) s).remove("ms");
        }
        return o.toString();
    }

    @Test
    void routesProblemsReportsBadLinesAndResumes(@TempDir Path dir) throws Exception {
        Path large = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7), CHATML);
        Path in = dir.resolve("problems.jsonl");
        Files.writeString(in, """
                {"id": "p1", "prompt": "Once upon a time"}
                {"id": "p2", "prompt": 3}
                {"id": "p3", "messages": [{"role": "user", "content": "Tom had a dog."}]}

                not json
                {"id": "p4", "question": "Lily went to the park."}
                """);
        Path out = dir.resolve("traces.jsonl");
        String[] args = {"route", "--small", SharedModels.stories260K().toString(), "--template", "chatml", "--large", large.toString(), "--in", in.toString(),
                "--out", out.toString(), "--policy", "random", "--large-fraction", "0.5", "--seed", "3", "--max-step-tokens", "6", "--max-total-tokens", "30",
                "--max-answer-tokens", "4", "--ctx", "1024"};
        CliRun r = CliRun.of(args);
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("line 2: \"prompt\" must be a non-empty string"), r.err());
        assertTrue(r.err().contains("line 5: not JSON"), r.err());
        assertTrue(r.out().contains("routed 3 problem(s)") && r.out().contains("skipped 2"), r.out());
        List<JsonNode> traces = read(out);
        assertEquals(List.of("p1", "p3", "p4"), traces.stream().map(t -> t.path("id").asText()).toList());
        boolean sawSmall = false;
        boolean sawLarge = false;
        for (JsonNode t : traces) {
            assertEquals("random", t.path("policy").asText());
            assertEquals("max_total_tokens", t.path("stop_reason").asText());
            int steps = 0;
            int larges = 0;
            long small = 0;
            long big = 0;
            for (JsonNode s : t.path("steps")) {
                steps++;
                boolean isLarge = s.path("model").asText().equals("large");
                larges += isLarge ? 1 : 0;
                sawLarge |= isLarge;
                sawSmall |= !isLarge;
                assertTrue(s.path("entropy").isNull(), "random does not glimpse");
                assertTrue(s.path("tokens").asInt() >= 1 && s.path("tokens").asInt() <= 6);
                assertTrue(s.path("ms").asDouble() >= 0 && s.path("text").isTextual());
                if (isLarge) {
                    big += s.path("tokens").asInt();
                } else {
                    small += s.path("tokens").asInt();
                }
            }
            assertTrue(small + big >= 30);
            assertEquals(small, t.path("small_tokens").asLong());
            assertEquals(big, t.path("large_tokens").asLong());
            assertEquals(larges / (double) steps, t.path("large_step_fraction").asDouble(), 1e-12);
            assertEquals(big / (double) (small + big), t.path("large_token_fraction").asDouble(), 1e-12);
            assertTrue(t.path("answer").isTextual() && t.path("answer_tokens").asInt() >= 1 && t.path("answer_tokens").asInt() <= 4);
            assertTrue(t.path("wall_ms").asDouble() > 0);
        }
        assertTrue(sawSmall && sawLarge, "both models wrote steps");

        // resume: keep the first trace, rerun: the others come back identical (seeded), the first is not redone
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        Files.writeString(out, lines.get(0) + "\n" + lines.get(1).substring(0, 20)); // a partial record, as a kill leaves
        CliRun again = CliRun.of(args);
        assertEquals(0, again.status(), again.err());
        assertTrue(again.out().contains("routed 2 problem(s)") && again.out().contains("1 already in"), again.out());
        List<JsonNode> resumed = read(out);
        assertEquals(3, resumed.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(untimed(traces.get(i)), untimed(resumed.get(i)));
        }

        // a resume with other settings is refused
        String[] other = args.clone();
        other[other.length - 9] = "4"; // --seed
        assertEquals("--seed", other[other.length - 10]);
        CliRun refused = CliRun.of(other);
        assertNotEquals(0, refused.status());
    }

    /** Problems routed at once (glimpses batched, small-model steps sharing decodes): every problem gets a whole trace. */
    @Test
    void routesProblemsInParallel(@TempDir Path dir) throws Exception {
        Path large = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7), CHATML);
        Path in = dir.resolve("problems.jsonl");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            sb.append("{\"id\": \"q").append(i).append("\", \"prompt\": \"Once upon a time there was a cat number ").append(i).append("\"}\n");
        }
        Files.writeString(in, sb);
        Path out = dir.resolve("traces.jsonl");
        CliRun r = CliRun.of("route", "--small", SharedModels.stories260K().toString(), "--template", "chatml", "--large", large.toString(), "--in",
                in.toString(), "--out", out.toString(), "--threshold", "1.0", "--max-step-tokens", "5", "--max-total-tokens", "20", "--max-answer-tokens", "3",
                "--ctx", "512", "--parallel", "3");
        assertEquals(0, r.status(), r.err());
        List<JsonNode> traces = read(out);
        assertEquals(List.of("q0", "q1", "q2", "q3", "q4", "q5"), traces.stream().map(t -> t.path("id").asText()).sorted().toList());
        for (JsonNode t : traces) {
            assertEquals("glimp", t.path("policy").asText());
            assertEquals(1.0, t.path("threshold").asDouble());
            long sum = 0;
            for (JsonNode s : t.path("steps")) {
                double h = s.path("entropy").asDouble();
                assertTrue(h >= 0 && h <= Math.log(20) + 1e-9, "top-20 entropy: " + h);
                assertEquals(h >= 1.0, s.path("model").asText().equals("large"), s.toString());
                sum += s.path("tokens").asInt();
            }
            assertTrue(sum >= 20, t.toString());
        }
    }

    @Test
    void onErrorFailStopsAtTheBadLine(@TempDir Path dir) throws Exception {
        Path in = dir.resolve("problems.jsonl");
        Files.writeString(in, "{\"id\": \"a\", \"prompt\": \"Once\"}\n{\"prompt\": \"no id\"}\n{\"id\": \"c\", \"prompt\": \"Twice\"}\n");
        Path out = dir.resolve("traces.jsonl");
        CliRun r = CliRun.of("route", "--small", SharedModels.stories260K().toString(), "--template", "chatml", "--large-url", "http://127.0.0.1:9/v1",
                "--policy", "small", "--in", in.toString(), "--out", out.toString(), "--max-step-tokens", "4", "--max-total-tokens", "8",
                "--max-answer-tokens", "0", "--ctx", "512", "--on-error", "fail");
        assertNotEquals(0, r.status());
        assertTrue(r.err().contains("line 2: missing \"id\"") && r.err().contains("after writing 1 trace(s)"), r.err());
        assertEquals(1, Files.readAllLines(out).size());
    }
}
