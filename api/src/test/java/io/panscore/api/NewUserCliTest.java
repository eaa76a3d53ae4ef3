package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.TokenScores;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a new user hit (issue 17), through the CLI in-process, on the real SentencePiece model
 * {@code stories260K.gguf} (no chat template) and the fixtures.
 */
class NewUserCliTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";

    private static Path stories() {
        return SharedModels.stories260K();
    }

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    private static String sample() throws IOException {
        try (InputStream in = NewUserCliTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static int count(String haystack, String needle) {
        int n = 0;
        for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }

    // 1. --ctx / --batch below llama.cpp's 16 output rows aborted the JVM (exit 134)

    @Test
    void smallContextAndBatchScoreOrFailTyped() throws IOException {
        // "Once upon a time" is BOS + 4 tokens: it fits in 8
        CliRun ctx8 = run("score", "--model", stories().toString(), "--text", "Once upon a time", "--ctx", "8", "--format", "jsonl");
        assertEquals(0, ctx8.status(), ctx8.err());
        assertEquals(4, ctx8.out().strip().split("\n").length, ctx8.out());
        for (String batch : List.of("1", "4", "15")) {
            CliRun b = run("score", "--model", stories().toString(), "--text", STORY, "--batch", batch, "--format", "jsonl");
            assertEquals(0, b.status(), "--batch " + batch + ": " + b.err());
        }
        CliRun u = run("score", "--model", stories().toString(), "--text", STORY, "--ctx", "64", "--batch", "4", "--ubatch", "1", "--format", "jsonl");
        assertEquals(0, u.status(), u.err());
        CliRun fixture = run("score", "--model", Fixtures.tiny().toString(), "--text", "one two", "--ctx", "8", "--batch", "2");
        assertEquals(0, fixture.status(), fixture.err());
        // a text that does not fit: a typed error, one line, exit 1
        CliRun tooSmall = run("score", "--model", stories().toString(), "--text", STORY, "--ctx", "8");
        assertEquals(1, tooSmall.status(), tooSmall.err());
        assertTrue(tooSmall.err().startsWith("panscore: ") && tooSmall.err().contains("more than the engine's context of 8"), tooSmall.err());
        // the batch size does not change the numbers
        assertEquals(run("score", "--model", stories().toString(), "--text", STORY, "--format", "jsonl").out(),
                run("score", "--model", stories().toString(), "--text", STORY, "--batch", "4", "--format", "jsonl").out());
    }

    // 2. SentencePiece token text lost its leading space

    @Test
    void tokenTextsAreTheExactPieces() throws IOException {
        try (Scorer scorer = Scorer.open(stories(), io.panscore.kernel.ModelOptions.defaults(), EngineOptions.defaults().withContextSize(256))) {
            Model model = scorer.model();
            int[] ids = model.tokenize(STORY, true, false);
            assertEquals(model.info().bos(), ids[0], "stories260K adds BOS");
            ScoredText scored = scorer.scoreText(STORY);
            assertEquals(ids.length - 1, scored.tokens().size());
            StringBuilder joined = new StringBuilder();
            scored.tokens().forEach(t -> joined.append(t.text()));
            // SentencePiece (add_space_prefix) tokenizes " " + text: the pieces after BOS concatenate to exactly that
            assertEquals(" " + STORY, joined.toString());
            assertEquals(" Once", scored.tokens().getFirst().text());
            // a lone "▁" piece is a space, not blank
            ScoredText x = scorer.scoreText("x");
            assertEquals(List.of(" ", "x"), x.tokens().stream().map(ScoredToken::text).toList());

            // the byte lengths used to map tokens to steps cover the text exactly (the added prefix excluded)
            int[] response = model.tokenize("Pair them.\n\nSo the sum is 5050.", false, false);
            int sum = 0;
            for (int n : model.pieceByteLengths(response)) {
                sum += n;
            }
            assertEquals("Pair them.\n\nSo the sum is 5050.".getBytes(StandardCharsets.UTF_8).length, sum);
        }
        // the CLI's JSONL carries the same pieces
        CliRun r = run("score", "--model", stories().toString(), "--text", STORY, "--format", "jsonl");
        assertEquals(0, r.status(), r.err());
        StringBuilder joined = new StringBuilder();
        for (String line : r.out().strip().split("\n")) {
            joined.append(JSON.readTree(line).get("token").asText());
        }
        assertEquals(" " + STORY, joined.toString());
    }

    // 3. models without a chat template

    @Test
    void aModelWithoutChatTemplateFailsOnceBeforeTheRun(@TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Path out = dir.resolve("out.jsonl");
        CliRun rsr = run("rsr", "--model", stories().toString(), "--in", in.toString(), "--out", out.toString(), "--progress", "never");
        assertEquals(1, rsr.status(), rsr.out() + rsr.err());
        assertEquals(1, count(rsr.err(), "panscore: "), "one message, not one per trajectory: " + rsr.err());
        assertTrue(rsr.err().contains("no chat template") && rsr.err().contains("--template none"), rsr.err());
        assertFalse(Files.exists(out) && !Files.readString(out).isEmpty(), "nothing written");

        CliRun prm = run("prm", "--policy", stories().toString(), "--no-ref", "--in", in.toString(), "--out", dir.resolve("p.jsonl").toString(),
                "--progress", "never");
        assertEquals(1, prm.status(), prm.err());
        assertEquals(1, count(prm.err(), "panscore: "), prm.err());
        assertTrue(prm.err().contains("--template none"), prm.err());

        CliRun demo = run("demo", "--model", stories().toString());
        assertEquals(1, demo.status(), demo.out() + demo.err());
        assertTrue(demo.err().contains("--template none"), demo.err());
        assertFalse(demo.out().contains("tokens scored"), "fails before scoring: " + demo.out());

        CliRun bogus = run("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", dir.resolve("b.jsonl").toString(),
                "--template", "bogus", "--progress", "never");
        assertEquals(1, bogus.status(), bogus.err());
        assertEquals(1, count(bogus.err(), "panscore: "), bogus.err());
        assertTrue(bogus.err().contains("\"bogus\"") && bogus.err().contains("chatml") && bogus.err().contains("llama3"), bogus.err());

        Assertions.assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            CliRun serve = run("serve", "--model", stories().toString(), "--port", "0");
            assertEquals(1, serve.status(), serve.out() + serve.err());
            assertTrue(serve.err().contains("--template none"), serve.err());
        });

        // with --template none the same run scores everything
        CliRun none = run("rsr", "--model", stories().toString(), "--in", in.toString(), "--out", out.toString(), "--template", "none",
                "--progress", "never");
        assertEquals(0, none.status(), none.err());
        assertEquals(18, Files.readAllLines(out).size());
        CliRun demoNone = run("demo", "--model", stories().toString(), "--template", "none");
        assertEquals(0, demoNone.status(), demoNone.err());
        assertTrue(demoNone.out().contains("18 sample trajectories scored"), demoNone.out());
    }

    @Test
    void nothingScoredExitsNonZero(@TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"), "{\"id\": \"a\", \"prompt\": \"p\"}\n{broken\n");
        CliRun r = run("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", dir.resolve("o.jsonl").toString(),
                "--progress", "never");
        assertEquals(1, r.status(), r.out() + r.err());
        assertTrue(r.err().contains("nothing was scored"), r.err());
        Path empty = Files.writeString(dir.resolve("empty.jsonl"), "\n");
        CliRun e = run("rsr", "--model", Fixtures.tiny().toString(), "--in", empty.toString(), "--out", dir.resolve("e.jsonl").toString(),
                "--progress", "never");
        assertEquals(1, e.status(), e.out() + e.err());
    }

    // 4. precision and format

    @Test
    void jsonLinesCarryTheExactFloat32Values() throws Exception {
        CliRun r = run("score", "--model", stories().toString(), "--text", STORY, "--format", "jsonl");
        assertEquals(0, r.status(), r.err());
        String[] lines = r.out().strip().split("\n");
        try (Model model = Model.load(stories()); Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(256))) {
            int[] ids = model.tokenize(STORY, true, false);
            TokenScores s = engine.score(List.of(Sequence.of(ids)), ScoreOptions.defaults()).getFirst();
            assertEquals(s.size(), lines.length);
            Pattern lp = Pattern.compile("\"logprob\":([^,}]+)");
            Pattern h = Pattern.compile("\"entropy\":([^,}]+)");
            for (int i = 0; i < lines.length; i++) {
                Matcher m = lp.matcher(lines[i]);
                assertTrue(m.find(), lines[i]);
                assertEquals(s.logprob()[i], Float.parseFloat(m.group(1)), 0f, "reads back to the float computed: " + lines[i]);
                assertEquals(Float.toString(s.logprob()[i]), m.group(1), "shortest form");
                Matcher e = h.matcher(lines[i]);
                assertTrue(e.find());
                assertEquals(s.entropy()[i], Float.parseFloat(e.group(1)), 0f, lines[i]);
                assertEquals(i + 1, JSON.readTree(lines[i]).get("pos").asInt());
                assertEquals(s.rank()[i], JSON.readTree(lines[i]).get("rank").asInt(), "rank is 1-based as computed");
            }
        }
    }

    @Test
    void theTableSaysItsUnitsAndNeverPrintsMinusZero() {
        CliRun r = run("score", "--model", stories().toString(), "--text", STORY);
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("logprob(nats)") && r.out().contains("entropy(nats)") && r.out().contains("argmax_logprob"), r.out());
        assertTrue(r.out().contains("1-based") && r.out().contains("BOS"), r.out());
        String header = r.out().lines().filter(l -> l.contains("pos")).findFirst().orElseThrow();
        assertEquals(1, count(header, " logprob"), "one column headed logprob, the other argmax_logprob: " + header);
        assertFalse(r.out().contains("-0.0000"), r.out());
        // the story has a token whose log-prob rounds to zero at 4 decimals (it is in (-5e-5, 0])
        assertTrue(r.out().lines().anyMatch(l -> l.matches("\\s*\\d+\\s+\\S+\\s+0\\.0000\\s.*")), r.out());
    }

    @Test
    void rsrAndPrmPrintFloatValuesAsFloats(@TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Path out = dir.resolve("out.jsonl");
        CliRun r = run("rsr", "--model", stories().toString(), "--in", in.toString(), "--out", out.toString(), "--template", "none",
                "--step-delimiter", "\\n\\n", "--per-token", "--progress", "never");
        assertEquals(0, r.status(), r.err());
        for (String line : Files.readAllLines(out)) {
            JsonNode n = JSON.readTree(line);
            float max = Float.NEGATIVE_INFINITY;
            for (JsonNode h : n.get("token_entropies")) {
                max = Math.max(max, Float.parseFloat(h.asText()));
            }
            float stepsMax = Float.NEGATIVE_INFINITY;
            for (JsonNode st : n.get("steps")) {
                String text = rawNumber(line, st.get("index").asInt(), "max_entropy");
                assertEquals(Float.toString(Float.parseFloat(text)), text, "a float printed as a float: " + text);
                stepsMax = Math.max(stepsMax, Float.parseFloat(text));
            }
            assertEquals(max, stepsMax, 0f, "the steps' max entropies are the tokens' float values");
        }
        Path prmOut = dir.resolve("prm.jsonl");
        CliRun p = run("prm", "--policy", stories().toString(), "--no-ref", "--in", in.toString(), "--out", prmOut.toString(), "--template", "none",
                "--log-ratios", "--progress", "never");
        assertEquals(0, p.status(), p.err());
        String line = Files.readAllLines(prmOut).getFirst();
        String text = rawNumber(line, 0, "min_logprob");
        assertEquals(Float.toString(Float.parseFloat(text)), text, line);
    }

    /** The literal text of a number field inside the index-th step object of a JSON line. */
    private static String rawNumber(String line, int stepIndex, String field) {
        int at = line.indexOf("{\"index\":" + stepIndex + ",");
        Matcher m = Pattern.compile("\"" + field + "\":([^,}]+)").matcher(line);
        assertTrue(at >= 0 && m.find(at), line);
        return m.group(1);
    }

    // 5. CLI gaps

    @Test
    void scoreTopKAndHelp() throws Exception {
        CliRun r = run("score", "--model", stories().toString(), "--text", STORY, "--format", "jsonl", "--top-k", "3");
        assertEquals(0, r.status(), r.err());
        for (String line : r.out().strip().split("\n")) {
            JsonNode n = JSON.readTree(line);
            JsonNode top = n.get("top");
            assertEquals(3, top.size(), line);
            assertEquals(n.get("argmax_id").asInt(), top.get(0).get("id").asInt(), line);
            assertEquals(n.get("argmax_logprob").asDouble(), top.get(0).get("logprob").asDouble(), 0.0, line);
            assertTrue(top.get(0).get("logprob").asDouble() >= top.get(1).get("logprob").asDouble()
                    && top.get(1).get("logprob").asDouble() >= top.get(2).get("logprob").asDouble(), line);
            if (n.get("rank").asInt() <= 3) {
                assertEquals(n.get("id").asInt(), top.get(n.get("rank").asInt() - 1).get("id").asInt(), line);
            }
        }
        CliRun table = run("score", "--model", stories().toString(), "--text", STORY, "--top-k", "2");
        assertTrue(table.out().contains("top-k"), table.out());
        CliRun help = run("score", "--help");
        String temperature = help.out().lines().dropWhile(l -> !l.strip().startsWith("--temperature")).limit(5).reduce("", String::concat);
        assertTrue(temperature.contains("softmax"), help.out());
        assertTrue(help.out().contains("--top-k"), help.out());
    }

    @Test
    void rsrPerTokenHasTokenTexts(@TempDir Path dir) throws Exception {
        // ASCII only: a piece that is part of a multi-byte character (a byte token) is not a whole character on its own
        String line = "{\"id\": \"a\", \"problem\": \"p\", \"teacher\": \"t\", \"prompt\": \"Tell me a story.\","
                + " \"response\": \"Once upon a time, Lily saw a big dog.\\n\\nShe was happy.\"}";
        Path in = Files.writeString(dir.resolve("in.jsonl"), line + "\n");
        Path out = dir.resolve("out.jsonl");
        CliRun r = run("rsr", "--model", stories().toString(), "--in", in.toString(), "--out", out.toString(), "--template", "none",
                "--per-token", "--progress", "never");
        assertEquals(0, r.status(), r.err());
        JsonNode n = JSON.readTree(Files.readAllLines(out).getFirst());
        assertEquals(n.get("token_ids").size(), n.get("token_texts").size());
        StringBuilder joined = new StringBuilder();
        n.get("token_texts").forEach(t -> joined.append(t.asText()));
        // the response tokenized on its own: SentencePiece puts a space in front of it
        assertEquals(" " + JSON.readTree(line).get("response").asText(), joined.toString());
    }

    @Test
    void infoJsonAndStepDelimiterWithCsv(@TempDir Path dir) throws Exception {
        CliRun info = run("info", "--model", stories().toString(), "--json");
        assertEquals(0, info.status(), info.err());
        JsonNode m = JSON.readTree(info.out()).get("model");
        assertTrue(m.get("chat_template").isNull(), info.out());
        assertEquals("llama", m.get("tokenizer").asText());
        assertEquals("F32", m.get("quantization").asText());
        assertEquals(512, m.get("vocab_size").asInt());
        CliRun tiny = run("info", "--model", Fixtures.tiny().toString(), "--json");
        JsonNode t = JSON.readTree(tiny.out()).get("model");
        try (Model model = Model.load(Fixtures.tiny())) {
            assertEquals(model.chatTemplate().orElseThrow(), t.get("chat_template").asText());
        }
        assertEquals("gpt2", t.get("tokenizer").asText());

        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Path csv = dir.resolve("out.csv");
        CliRun r = run("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", csv.toString(), "--step-delimiter", "\\n\\n",
                "--progress", "never");
        assertNotEquals(0, r.status(), "refused, not dropped silently");
        assertTrue(r.err().contains("--step-delimiter needs --format jsonl"), r.err());
    }

    // 6. errors that say what to do

    @Test
    void errorsSayWhatToDo(@TempDir Path dir) throws Exception {
        CliRun missing = run("score", "--model", stories().toString(), "--file", dir.resolve("nope.txt").toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().contains("no such file") && missing.err().contains("nope.txt"), missing.err());

        CliRun directory = run("score", "--model", dir.toString(), "--text", "hi");
        assertEquals(1, directory.status());
        assertTrue(directory.err().contains("is a directory"), directory.err());
        assertFalse(directory.err().contains("not a GGUF file"), directory.err());

        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        CliRun e = run("score", "--model", stories().toString(), "--file", empty.toString());
        assertEquals(1, e.status());
        assertTrue(e.err().contains("is empty"), e.err());
        assertFalse(e.err().contains("sequence 0"), e.err());

        byte[] whole = Files.readAllBytes(stories());
        Path truncated = Files.write(dir.resolve("truncated.gguf"), java.util.Arrays.copyOf(whole, whole.length / 2));
        CliRun t = run("score", "--model", truncated.toString(), "--text", "hi");
        assertEquals(1, t.status());
        assertTrue(t.err().contains("truncated"), t.err());
    }

    @Test
    void malformedInputMessagesAndOnErrorFail(@TempDir Path dir) throws Exception {
        String[] lines = sample().split("\n");
        // an unterminated object: Jackson's message names its source location at length; ours does not
        String input = lines[0] + "\n" + lines[1] + "\n{\"id\": \"x\", \"prompt\": \"p\", \"response\": \"r\"\n"
                + "{\"id\": \"no-names\", \"prompt\": \"What is 2 + 2?\", \"response\": \"It is 4.\"}\n" + lines[2] + "\n";
        Path in = Files.writeString(dir.resolve("in.jsonl"), input);
        CliRun skip = run("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", dir.resolve("s.jsonl").toString(),
                "--ctx", "1024", "--progress", "never");
        assertEquals(0, skip.status(), skip.err());
        assertTrue(skip.err().contains("line 3: not valid JSON"), skip.err());
        assertFalse(skip.err().contains("REDACTED") || skip.err().contains("StreamReadFeature") || skip.err().contains("Source:"), skip.err());
        assertTrue(skip.err().contains("without \"problem\"") && skip.err().contains("without \"teacher\""), skip.err());

        // --on-error fail: the valid lines before the bad one are written, with the default chunk size
        Path out = dir.resolve("f.jsonl");
        CliRun fail = run("rsr", "--model", Fixtures.tiny().toString(), "--in", in.toString(), "--out", out.toString(), "--ctx", "1024",
                "--on-error", "fail", "--progress", "never");
        assertEquals(1, fail.status(), fail.err());
        assertTrue(fail.err().contains("line 3"), fail.err());
        List<String> ids = new ArrayList<>();
        for (String l : Files.readAllLines(out)) {
            ids.add(JSON.readTree(l).get("id").asText());
        }
        assertEquals(List.of(JSON.readTree(lines[0]).get("id").asText(), JSON.readTree(lines[1]).get("id").asText()), ids);
    }
}
