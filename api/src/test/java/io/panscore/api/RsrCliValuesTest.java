package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code panscore rsr}'s flags, each checked by the values it produces: every number of every
 * record against the float64 reference on tokens built in the test (--template none, --r-max,
 * --per-token, --step-delimiter), the teacher ranking and best-per-problem summaries against
 * sums computed here from the records (--by-teacher, --select-best), CSV (--format) and resuming
 * a CSV without a second header.
 */
class RsrCliValuesTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final double TOL = 2e-5;
    static Model model;
    static Engine engine;
    static String sample;
    static List<Trajectory> trajectories = new ArrayList<>();

    @BeforeAll
    static void open() throws IOException {
        model = Model.load(Fixtures.tiny());
        engine = model.newEngine(EngineOptions.defaults().withContextSize(1024));
        try (InputStream in = RsrCliValuesTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            sample = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        new TrajectoryJsonl(new BufferedReader(new StringReader(sample)), e -> {
            throw e;
        }).forEachRemaining(trajectories::add);
    }

    @AfterAll
    static void close() {
        engine.close();
        model.close();
    }

    private static List<String> common(Path in, Path out) {
        return new ArrayList<>(List.of("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", out.toString(), "--ctx", "1024",
                "--batch", "256", "--ubatch", "128", "--threads", "2", "--gpu-layers", "0", "--progress", "never", "--template", "none"));
    }

    @Test
    void everyNumberEqualsTheReference(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample);
        Path out = dir.resolve("out.jsonl");
        List<String> args = common(in, out);
        args.addAll(List.of("--r-max", "7", "--per-token", "--step-delimiter", "\\n\\n", "--by-teacher", "--select-best", "--chunk", "5"));
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, r.status(), r.err());
        Map<String, JsonNode> records = new LinkedHashMap<>();
        for (String line : Files.readAllLines(out)) {
            JsonNode n = JSON.readTree(line);
            records.put(n.get("id").asText(), n);
        }
        assertEquals(trajectories.stream().map(Trajectory::id).toList(), List.copyOf(records.keySet()));
        Map<String, double[]> teacherSums = new TreeMap<>(); // teacher -> {Σ r̄, Σ s̄}
        Map<String, String> bestOf = new TreeMap<>();
        Map<String, Double> bestRsr = new TreeMap<>();
        for (Trajectory t : trajectories) {
            JsonNode n = records.get(t.id());
            Independent.Tokens tok = Independent.tokensNoTemplate(model, t);
            ReferenceKernel.Stats[] ref = Independent.reference(engine, tok.sequence(), 0);
            int len = ref.length;
            double s = 0;
            double rank = 0;
            double h = 0;
            for (ReferenceKernel.Stats x : ref) {
                s -= x.logprob();
                rank += Math.min(x.rank(), 7);
                h += x.entropy();
            }
            assertEquals(len, n.get("tokens").asInt(), t.id());
            assertEquals(s / len, n.get("mean_surprisal").asDouble(), TOL, t.id());
            assertEquals(rank / len, n.get("mean_clipped_rank").asDouble(), 1e-12, t.id());
            assertEquals(rank / s, n.get("rsr").asDouble(), TOL * rank / s, t.id());
            assertEquals(h / len, n.get("mean_entropy").asDouble(), TOL, t.id());
            assertEquals(Math.exp(s / len), n.get("perplexity").asDouble(), TOL * Math.exp(s / len), t.id());
            // --per-token: the response's own tokens and the reference's ranks and log-probs
            assertArrayEquals(tok.response(), ints(n.get("token_ids")), t.id());
            assertArrayEquals(Arrays.stream(ref).mapToInt(ReferenceKernel.Stats::rank).toArray(), ints(n.get("token_ranks")), t.id());
            for (int i = 0; i < len; i++) {
                assertEquals(ref[i].logprob(), n.get("token_logprobs").get(i).asDouble(), TOL, t.id() + " token " + i);
                assertEquals(ref[i].entropy(), n.get("token_entropies").get(i).asDouble(), TOL, t.id() + " token " + i);
            }
            // --step-delimiter: tokens per step from the independent token-to-step map
            int[] counts = Independent.countsPerStep(Independent.tokenSteps(model, tok.response(), t.response(), "\n\n"));
            List<Integer> nonEmpty = Arrays.stream(counts).filter(c -> c > 0).boxed().toList();
            List<Integer> got = new ArrayList<>();
            n.get("steps").forEach(st -> got.add(st.get("tokens").asInt()));
            assertEquals(nonEmpty, got, t.id() + " tokens per step");
            double[] sums = teacherSums.computeIfAbsent(t.teacher(), k -> new double[2]);
            sums[0] += rank / len;
            sums[1] += s / len;
            if (!bestRsr.containsKey(t.problem()) || rank / s < bestRsr.get(t.problem())) {
                bestRsr.put(t.problem(), rank / s);
                bestOf.put(t.problem(), t.id());
            }
        }
        // --by-teacher: teachers in order of Σ r̄ / Σ s̄, each line with its dataset RSR
        List<String> teachers = new ArrayList<>(teacherSums.keySet());
        teachers.sort((a, b) -> Double.compare(teacherSums.get(a)[0] / teacherSums.get(a)[1], teacherSums.get(b)[0] / teacherSums.get(b)[1]));
        String text = r.out();
        int at = text.indexOf("teachers by dataset RSR");
        assertTrue(at >= 0, text);
        int previous = at;
        for (String teacher : teachers) {
            String line = lineWith(text, " " + teacher + " ", previous);
            int pos = text.indexOf(line, previous);
            assertTrue(pos > previous, teacher + " out of order in\n" + text);
            previous = pos;
            double want = teacherSums.get(teacher)[0] / teacherSums.get(teacher)[1];
            assertTrue(numbers(line).stream().anyMatch(v -> Math.abs(v - want) <= 1e-3 * want), teacher + " " + want + " in: " + line);
        }
        // --select-best: per problem, the id with the lowest RSR
        int best = text.indexOf("best trajectory per problem");
        assertTrue(best > at, text);
        for (Map.Entry<String, String> e : bestOf.entrySet()) {
            assertTrue(lineWith(text, e.getKey() + " ", best).contains(e.getValue()), e + " in\n" + text);
        }
    }

    @Test
    void csvFormatAndResumeKeepOneHeader(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample);
        Path out = dir.resolve("out.txt");
        List<String> args = common(in, out);
        args.addAll(List.of("--format", "csv", "--chunk", "1"));
        assertEquals(0, CliRun.of(args.toArray(String[]::new)).status());
        byte[] clean = Files.readAllBytes(out);
        List<String> lines = Files.readAllLines(out);
        assertEquals(19, lines.size());
        assertEquals(1, lines.stream().filter(l -> l.startsWith("id,")).count());
        // the rows hold the reference's numbers
        Trajectory t = trajectories.getFirst();
        ReferenceKernel.Stats[] ref = Independent.reference(engine, Independent.tokensNoTemplate(model, t).sequence(), 0);
        double s = Arrays.stream(ref).mapToDouble(x -> -x.logprob()).sum();
        String[] f = lines.get(1).split(",");
        assertEquals(t.id(), f[0]);
        assertEquals(ref.length, Integer.parseInt(f[3]));
        assertEquals(s / ref.length, Double.parseDouble(f[4]), TOL);
        // cut after 7 records, mid-line, and resume: byte for byte the clean file, one header
        int cut = nthNewline(clean, 8) + 5;
        Files.write(out, Arrays.copyOf(clean, cut));
        CliRun resumed = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, resumed.status(), resumed.err());
        assertArrayEquals(clean, Files.readAllBytes(out));
    }

    /** --template chatml: the prompt rendered as ChatML, its markers parsed as special tokens; only the response is scored. */
    @Test
    void chatmlTemplateScoresTheResponseAfterTheRenderedPrompt(@TempDir Path dir) throws IOException {
        String[] lines = sample.split("\n");
        Path in = Files.writeString(dir.resolve("in.jsonl"), lines[0] + "\n");
        Path out = dir.resolve("out.jsonl");
        List<String> args = common(in, out);
        args.set(args.indexOf("none"), "chatml");
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, r.status(), r.err());
        Trajectory t = trajectories.getFirst();
        int[] prompt = model.tokenize("<|im_start|>user\n" + t.prompt() + "<|im_end|>\n<|im_start|>assistant\n", true, true);
        int[] response = model.tokenize(t.response(), false, false);
        int[] all = Arrays.copyOf(prompt, prompt.length + response.length);
        System.arraycopy(response, 0, all, prompt.length, response.length);
        ReferenceKernel.Stats[] ref = Independent.reference(engine, io.panscore.kernel.Sequence.from(all, prompt.length), 0);
        double s = Arrays.stream(ref).mapToDouble(x -> -x.logprob()).sum();
        double rank = Arrays.stream(ref).mapToDouble(x -> Math.min(x.rank(), 100)).sum();
        JsonNode n = JSON.readTree(Files.readAllLines(out).getFirst());
        assertEquals(response.length, n.get("tokens").asInt());
        assertEquals(s / response.length, n.get("mean_surprisal").asDouble(), TOL);
        assertEquals(rank / response.length, n.get("mean_clipped_rank").asDouble(), 1e-12, "default --r-max 100");
    }

    @Test
    void onErrorFailStopsAtTheFirstBadLine(@TempDir Path dir) throws IOException {
        String[] lines = sample.split("\n");
        Path in = Files.writeString(dir.resolve("in.jsonl"), lines[0] + "\n" + lines[1] + "\n{\"id\": 3}\n" + lines[2] + "\n");
        Path out = dir.resolve("out.jsonl");
        List<String> args = common(in, out);
        args.addAll(List.of("--on-error", "fail", "--chunk", "1"));
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(1, r.status());
        assertTrue(r.err().contains("line 3"), r.err());
        assertEquals(2, Files.readAllLines(out).size());
        args.set(args.indexOf("fail"), "skip");
        CliRun skip = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, skip.status(), skip.err());
        assertEquals(3, Files.readAllLines(out).size());
    }

    static String lineWith(String text, String needle, int from) {
        int i = text.indexOf(needle, from);
        assertTrue(i >= 0, "'" + needle + "' not in\n" + text);
        int start = text.lastIndexOf('\n', i) + 1;
        int end = text.indexOf('\n', i);
        return text.substring(start, end < 0 ? text.length() : end);
    }

    /** The decimal numbers in a line of text (whatever the formatting). */
    static List<Double> numbers(String line) {
        List<Double> out = new ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("-?[0-9][0-9,]*\\.[0-9]+(?:[eE][-+]?[0-9]+)?").matcher(line);
        while (m.find()) {
            out.add(Double.parseDouble(m.group().replace(",", "")));
        }
        return out;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static int nthNewline(byte[] b, int n) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == '\n' && --n == 0) {
                return i;
            }
        }
        throw new IllegalArgumentException();
    }
}
