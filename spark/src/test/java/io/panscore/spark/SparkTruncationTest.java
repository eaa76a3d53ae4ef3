package io.panscore.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.cli.Main;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --max-tokens} in the Spark job: a trajectory longer than the limit is cut and what is kept
 * is scored, as the CLI does, with {@code truncated_from} in its rows; truncated and unscorable
 * trajectories are counted. Expected values come from the float64 reference on tokens built and cut
 * here, and from the CLI's own output for the same cut.
 */
class SparkTruncationTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX = 24;
    private static final double BETA = 0.5;
    private static final String LONG1 = "First add 17 and 20 to get 37. Then add 5 more to get 42. So the total is 42, and we check it twice: 42.";
    private static final String LONG2 = "It is 32.\n\nNo wait, 17 + 25 is 42 because 7 + 5 = 12 and 10 + 20 = 30, so 42 in all.";
    private static final String BIG_PROMPT = "Read this long problem statement carefully: a farmer has 17 sheep and buys 25 more, then sells none, "
            + "then counts them again twice to be sure. How many sheep does the farmer have now, in total?";

    private static SparkSession spark;
    private static String tiny;
    private static String ref;

    /** id, prompt, response of the well-formed rows (template none: the prompt is the text itself). */
    private static final String[][] ROWS = {
        {"long1", "Add 17 and 25.", LONG1},
        {"long2", "Add 17 and 25.", LONG2},
        {"short", "Is 91 prime?", "No."},
        {"empty", "Is 91 prime?", ""},
        {"bigprompt", BIG_PROMPT, "42."}};

    private static String input() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String[] r : ROWS) {
            sb.append(JSON.createObjectNode().put("id", r[0]).put("problem", "p").put("prompt", r[1]).put("response", r[2])).append('\n');
        }
        return sb.append("{broken\n").toString();
    }

    @BeforeAll
    static void start() {
        tiny = Fixtures.tiny().toString();
        ref = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString();
        spark = LocalSpark.start("panscore-spark-truncation-test", 2);
    }

    @AfterAll
    static void stop() {
        LocalSpark.stop(spark);
    }

    /**
     * Per row that fits a prompt: {full length, kept response tokens, Σ log π_tiny, Σ log π_ref, Σ min(rank, 100), Σ surprisal}
     * over the first MAX tokens of prompt + response.
     */
    private static Map<String, double[]> expected() {
        Map<String, double[]> out = new TreeMap<>();
        try (Model p = Model.load(Path.of(tiny)); Model r = Model.load(Path.of(ref));
                Engine pe = p.newEngine(EngineOptions.defaults().withContextSize(512)); Engine re = r.newEngine(EngineOptions.defaults().withContextSize(512))) {
            int vocab = p.info().vocabSize();
            for (String[] row : ROWS) {
                if (row[2].isEmpty()) {
                    continue;
                }
                int[] prompt = p.tokenize(row[1], true, false);
                int[] response = p.tokenize(row[2], false, false);
                if (prompt.length >= MAX) {
                    continue; // no room for the response
                }
                int full = prompt.length + response.length;
                int[] all = Arrays.copyOf(prompt, full);
                System.arraycopy(response, 0, all, prompt.length, response.length);
                int[] cut = Arrays.copyOf(all, Math.min(full, MAX));
                int kept = cut.length - prompt.length;
                Sequence seq = Sequence.from(cut, prompt.length);
                float[] lp = pe.logits(List.of(seq));
                float[] lr = re.logits(List.of(seq));
                double[] e = new double[6];
                e[0] = full;
                e[1] = kept;
                for (int i = 0; i < kept; i++) {
                    ReferenceKernel.Stats sp = ReferenceKernel.stats(lp, i * vocab, vocab, cut[prompt.length + i], 1, 0);
                    ReferenceKernel.Stats sr = ReferenceKernel.stats(lr, i * vocab, vocab, cut[prompt.length + i], 1, 0);
                    e[2] += sp.logprob();
                    e[3] += sr.logprob();
                    e[4] += Math.min(sp.rank(), 100);
                    e[5] -= sp.logprob();
                }
                out.put(row[0], e);
            }
        }
        return out;
    }

    private static Map<String, Row> read(Path dir) {
        Map<String, Row> out = new TreeMap<>();
        spark.read().parquet(dir.toString()).collectAsList().forEach(r -> out.put(r.getAs("id"), r));
        return out;
    }

    /** The CLI's JSONL records by id. */
    private static Map<String, JsonNode> cli(Path out, String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of("--out", out.toString(), "--ctx", "512", "--threads", "1", "--progress", "never", "--chunk", "1", "--template", "none",
                "--max-tokens", Integer.toString(MAX)));
        StringWriter err = new StringWriter();
        int status = Main.run(a.toArray(String[]::new), new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        assertEquals(0, status, err.toString());
        Map<String, JsonNode> byId = new TreeMap<>();
        for (String line : Files.readAllLines(out)) {
            JsonNode n = JSON.readTree(line);
            byId.put(n.get("id").asText(), n);
        }
        return byId;
    }

    @Test
    void longTrajectoriesAreCutScoredReportedAndCounted(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), input());
        Map<String, double[]> want = expected();
        // by hand: long1 and long2 are longer than MAX, short fits, bigprompt's prompt fills MAX, empty is empty
        assertEquals(List.of("long1", "long2", "short"), List.copyOf(want.keySet()));
        assertTrue(want.get("long1")[0] > MAX && want.get("long2")[0] > MAX && want.get("short")[0] <= MAX, "the input is as intended");

        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = SparkScoreJob.run(new String[] {"--in", in.toString(), "--out", dir.resolve("job").toString(), "--rsr-model", tiny,
            "--prm-policy", tiny, "--prm-ref", ref, "--beta", Double.toString(BETA), "--template", "none", "--ctx", "512", "--threads", "1",
            "--max-tokens", Integer.toString(MAX), "--partitions", "2"}, new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, status, err.toString());
        assertTrue(out.toString().contains("3 RSR scored, 3 PRM scored, 1 malformed, 2 unscorable, 2 truncated"), out.toString());

        Map<String, Row> rsr = read(dir.resolve("job/rsr"));
        Map<String, Row> prm = read(dir.resolve("job/prm"));
        assertEquals(want.keySet(), rsr.keySet());
        assertEquals(want.keySet(), prm.keySet());
        for (Map.Entry<String, double[]> e : want.entrySet()) {
            double[] w = e.getValue();
            String id = e.getKey();
            Row r = rsr.get(id);
            Row p = prm.get(id);
            Object from = w[0] > MAX ? (Object) (int) w[0] : null;
            assertEquals(from, r.getAs("truncated_from"), id);
            assertEquals(from, p.getAs("truncated_from"), id);
            assertEquals((int) w[1], (int) r.getAs("tokens"), id);
            assertEquals((int) w[1], (int) p.getAs("tokens"), id);
            assertEquals(w[4] / w[5], (double) r.getAs("rsr"), 1e-5 * w[4] / w[5], id);
            assertEquals(w[4] / w[1], (double) r.getAs("mean_clipped_rank"), 1e-12, id);
            double tol = BETA * 2.4e-6 * (2 * w[1] + Math.abs(w[2]) + Math.abs(w[3])); // the kernel's error bound (docs/TESTING.md)
            assertEquals(BETA * (w[2] - w[3]), (double) p.getAs("reward"), tol, id);
        }
        Map<String, Row> bad = new TreeMap<>();
        spark.read().parquet(dir.resolve("job/bad_rows").toString()).collectAsList()
                .forEach(r -> bad.put(r.isNullAt(r.fieldIndex("id")) ? "(no id)" : r.getAs("id"), r));
        assertEquals(List.of("(no id)", "bigprompt", "empty"), List.copyOf(bad.keySet()));
        assertTrue(bad.get("bigprompt").<String>getAs("reason").contains("no room for the response within " + MAX + " tokens"),
                bad.get("bigprompt").toString());

        // the same cut as the CLI's: truncated_from and every number to the bit
        Map<String, JsonNode> cliRsr = cli(dir.resolve("rsr.jsonl"), "rsr", "--model", tiny, "--in", in.toString());
        Map<String, JsonNode> cliPrm = cli(dir.resolve("prm.jsonl"), "prm", "--policy", tiny, "--ref", ref, "--beta", Double.toString(BETA), "--in",
                in.toString());
        for (String id : want.keySet()) {
            JsonNode c = cliRsr.get(id);
            Row r = rsr.get(id);
            assertEquals(c.has("truncated_from") ? c.get("truncated_from").asInt() : null, r.getAs("truncated_from"), id);
            for (String f : List.of("mean_surprisal", "mean_clipped_rank", "rsr", "mean_entropy", "perplexity")) {
                assertEquals(c.get(f).asDouble(), (double) r.getAs(f), id + " " + f);
            }
            JsonNode cp = cliPrm.get(id);
            Row p = prm.get(id);
            assertEquals(cp.has("truncated_from") ? cp.get("truncated_from").asInt() : null, p.getAs("truncated_from"), id);
            assertEquals(cp.get("reward").asDouble(), (double) p.getAs("reward"), id);
            assertEquals(cp.get("tokens").asInt(), (int) p.getAs("tokens"), id);
        }

        // the Java API: exact counts and the accumulators
        ScoringConfig config = ScoringConfig.rsr(tiny).withTemplate("none").withContextSize(512).withThreads(1).withMaxTokens(MAX).withPartitions(2);
        SparkScorer.Report report = new SparkScorer(config).score(SparkScorer.jsonlLines(spark, in.toString()))
                .write(dir.resolve("api").toString(), org.apache.spark.sql.SaveMode.Overwrite);
        assertEquals(6, report.rows());
        assertEquals(3, report.rsrScored());
        assertEquals(2, report.truncated());
        assertEquals(2, report.unscorable());
        assertEquals(1, report.malformed());
        assertEquals(2, report.counters().truncated());
        assertEquals(2, report.counters().unscorable());
        // without a limit below the lengths nothing is cut
        SparkScorer.Report whole = new SparkScorer(config.withMaxTokens(512)).score(SparkScorer.jsonlLines(spark, in.toString()))
                .write(dir.resolve("whole").toString(), org.apache.spark.sql.SaveMode.Overwrite);
        assertEquals(0, whole.truncated());
        assertEquals(4, whole.rsrScored(), "bigprompt fits now");
        assertTrue(read(dir.resolve("whole/rsr")).values().stream().allMatch(r -> r.isNullAt(r.fieldIndex("truncated_from"))));
    }
}
