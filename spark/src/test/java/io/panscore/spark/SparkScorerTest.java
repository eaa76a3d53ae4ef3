package io.panscore.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.cli.Main;
import io.panscore.api.trajectory.ScoreWriter;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.api.trajectory.TrajectoryScore;
import io.panscore.api.trajectory.TrajectoryScorer;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark job against the CLI on the bundled sample trajectories and the tiny fixture models, in
 * local[2]: the same numbers (to the bit), whatever the partitioning; malformed rows counted and
 * reported, or fatal when asked.
 */
class SparkScorerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CTX = "1024";
    private static SparkSession spark;
    private static String tiny;
    private static String ref;

    @BeforeAll
    static void start() {
        tiny = Fixtures.tiny().toString();
        ref = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString();
        spark = LocalSpark.start("panscore-spark-test", 3);
    }

    @AfterAll
    static void stop() {
        LocalSpark.stop(spark);
    }

    static String sample() throws IOException {
        try (InputStream in = SparkScorerTest.class.getResourceAsStream("/io/panscore/api/sample-trajectories.jsonl")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static ScoringConfig cliLike(ScoringConfig c) {
        return c.withContextSize(Integer.parseInt(CTX)).withThreads(1);
    }

    /** Runs the CLI; returns its JSONL output by id. */
    private static Map<String, JsonNode> cli(Path out, String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of("--out", out.toString(), "--ctx", CTX, "--threads", "1", "--progress", "never"));
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

    private static Map<String, Row> byId(Dataset<Row> ds) {
        Map<String, Row> out = new TreeMap<>();
        for (Row r : ds.collectAsList()) {
            assertFalse(out.containsKey(r.<String>getAs("id")), "duplicate " + r.getAs("id"));
            out.put(r.getAs("id"), r);
        }
        return out;
    }

    private static Map<String, Row> read(Path dir) {
        return byId(spark.read().parquet(dir.toString()));
    }

    private static void assertSameRows(Map<String, Row> a, Map<String, Row> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String id : a.keySet()) {
            assertEquals(a.get(id), b.get(id), id); // Row equality: every column, doubles to the bit
        }
    }

    /** Spark's RSR rows equal the CLI's JSONL records, every number to the bit. */
    private static void assertRsrEqualsCli(Map<String, JsonNode> cli, Map<String, Row> spark, boolean steps) {
        assertEquals(cli.keySet(), spark.keySet());
        for (String id : cli.keySet()) {
            JsonNode c = cli.get(id);
            Row s = spark.get(id);
            assertEquals(c.get("problem").asText(), s.getAs("problem"), id);
            assertEquals(c.get("teacher").asText(), s.getAs("teacher"), id);
            assertEquals(c.get("tokens").asInt(), (int) s.getAs("tokens"), id);
            for (String f : List.of("mean_surprisal", "mean_clipped_rank", "rsr", "mean_entropy", "perplexity")) {
                assertEquals(c.get(f).asDouble(), (double) s.getAs(f), id + " " + f);
            }
            if (steps) {
                List<Row> st = s.getList(s.fieldIndex("step_stats"));
                assertEquals(c.get("steps").size(), st.size(), id);
                for (int i = 0; i < st.size(); i++) {
                    JsonNode cs = c.get("steps").get(i);
                    Row ss = st.get(i);
                    assertEquals(cs.get("index").asInt(), (int) ss.getAs("index"));
                    assertEquals(cs.get("tokens").asInt(), (int) ss.getAs("tokens"));
                    for (String f : List.of("mean_entropy", "max_entropy", "min_logprob", "mean_clipped_rank")) {
                        assertStepValue(cs, ss, f, id + " step " + i + " " + f);
                    }
                }
            } else {
                assertTrue(s.isNullAt(s.fieldIndex("step_stats")), id);
            }
        }
    }

    /**
     * A step's max entropy and min log-prob are float32 values: the CLI prints them as floats
     * (the shortest form of the float), Spark stores the same float widened to a double.
     */
    private static void assertStepValue(JsonNode cli, Row spark, String f, String what) {
        double value = spark.getAs(f);
        if (f.equals("max_entropy") || f.equals("min_logprob")) {
            assertEquals((double) (float) value, value, what + " is a float32 value");
            assertEquals((float) cli.get(f).asDouble(), (float) value, what);
        } else {
            assertEquals(cli.get(f).asDouble(), value, what);
        }
    }

    private static void assertPrmEqualsCli(Map<String, JsonNode> cli, Map<String, Row> spark) {
        assertEquals(cli.keySet(), spark.keySet());
        for (String id : cli.keySet()) {
            JsonNode c = cli.get(id);
            Row s = spark.get(id);
            assertEquals(c.get("problem").asText(), s.getAs("problem"), id);
            assertEquals(c.get("teacher").asText(), s.getAs("teacher"), id);
            assertEquals(c.get("tokens").asInt(), (int) s.getAs("tokens"), id);
            assertEquals(c.get("beta").asDouble(), (double) s.getAs("beta"), id);
            assertEquals(c.get("reward").asDouble(), (double) s.getAs("reward"), id);
            for (String a : Schemas.PRM_AGGREGATES) {
                assertEquals(c.get("aggregates").get(a).asDouble(), (double) s.getAs(a), id + " " + a);
            }
            List<Row> st = s.getList(s.fieldIndex("step_rewards"));
            assertEquals(c.get("steps").size(), st.size(), id);
            assertEquals(st.size(), (int) s.getAs("steps"), id);
            for (int i = 0; i < st.size(); i++) {
                JsonNode cs = c.get("steps").get(i);
                Row ss = st.get(i);
                assertEquals(cs.get("index").asInt(), (int) ss.getAs("index"));
                assertEquals(cs.get("tokens").asInt(), (int) ss.getAs("tokens"));
                for (String f : List.of("r", "q", "mean_entropy", "max_entropy", "min_logprob", "mean_clipped_rank")) {
                    assertStepValue(cs, ss, f, id + " step " + i + " " + f);
                }
            }
        }
    }

    @Test
    void rsrEqualsTheCliToTheBitWhateverThePartitioning(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Map<String, JsonNode> cli = cli(dir.resolve("cli.jsonl"), "rsr", "--model", tiny, "--in", in.toString(), "--chunk", "1", "--step-delimiter",
                "\\n\\n");
        assertEquals(18, cli.size());

        ScoringConfig config = cliLike(ScoringConfig.rsr(tiny)).withStepDelimiter("\n\n");
        SparkScorer.Report one = new SparkScorer(config.withPartitions(1)).score(SparkScorer.jsonlLines(spark, in.toString()))
                .write(dir.resolve("p1").toString(), SaveMode.Overwrite);
        Map<String, Integer> enginesAfterFirst = EnginePool.enginesCreated();
        SparkScorer.Report three = new SparkScorer(config.withPartitions(3)).score(SparkScorer.jsonlLines(spark, in.toString()))
                .write(dir.resolve("p3").toString(), SaveMode.Overwrite);
        assertEquals(18, one.rsrScored());
        assertEquals(18, three.rsrScored());
        assertEquals(0, three.malformed() + three.unscorable());
        assertEquals(18, three.counters().rsrScored());
        assertTrue(three.tokens() > 0);

        Map<String, Row> p1 = read(dir.resolve("p1/rsr"));
        Map<String, Row> p3 = read(dir.resolve("p3/rsr"));
        assertRsrEqualsCli(cli, p3, true);
        assertSameRows(p1, p3);
        // the CLI's CSV columns, in its order, then the step details and the input record
        List<String> columns = Arrays.asList(spark.read().parquet(dir.resolve("p3/rsr").toString()).columns());
        assertEquals(List.of(ScoreWriter.CSV_HEADER.split(",")), columns.subList(0, 9));
        assertEquals(List.of("step_stats", "truncated_from", "record"), columns.subList(9, 12));
        assertEquals(0, spark.read().parquet(dir.resolve("p3/bad_rows").toString()).count());
        // the records are the input's line numbers
        List<String> lines = List.of(sample().split("\n"));
        for (Row r : p3.values()) {
            assertTrue(lines.get((int) (long) r.<Long>getAs("record") - 1).contains("\"" + r.getAs("id") + "\""), r.toString());
        }

        // engines are per executor slot and reused: the second job created none, and local[2] has two slots
        assertEquals(enginesAfterFirst, EnginePool.enginesCreated());
        assertTrue(EnginePool.enginesCreated().get(Path.of(tiny).getFileName().toString()) <= 4, EnginePool.enginesCreated().toString());
    }

    @Test
    void prmAndRsrInOnePassEqualTheCli(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        Map<String, JsonNode> cliPrm = cli(dir.resolve("prm.jsonl"), "prm", "--policy", tiny, "--ref", ref, "--in", in.toString(), "--chunk", "1");
        Map<String, JsonNode> cliRsr = cli(dir.resolve("rsr.jsonl"), "rsr", "--model", tiny, "--in", in.toString(), "--chunk", "1");

        ScoringConfig config = cliLike(ScoringConfig.rsr(tiny).withPrm(tiny, ref));
        Dataset<Row> shuffled = SparkScorer.jsonlLines(spark, in.toString()).repartition(3);
        SparkScorer.Report r = new SparkScorer(config.withPartitions(3)).score(shuffled).write(dir.resolve("p3").toString(), SaveMode.Overwrite);
        assertEquals(18, r.rsrScored());
        assertEquals(18, r.prmScored());
        new SparkScorer(config.withPartitions(1)).score(SparkScorer.jsonlLines(spark, in.toString())).write(dir.resolve("p1").toString(),
                SaveMode.Overwrite);

        assertPrmEqualsCli(cliPrm, read(dir.resolve("p3/prm")));
        assertRsrEqualsCli(cliRsr, read(dir.resolve("p3/rsr")), false);
        assertSameRows(read(dir.resolve("p1/prm")), read(dir.resolve("p3/prm")));
        assertSameRows(read(dir.resolve("p1/rsr")), read(dir.resolve("p3/rsr")));
        List<String> columns = Arrays.asList(spark.read().parquet(dir.resolve("p3/prm").toString()).columns());
        assertEquals(List.of("id,problem,teacher,tokens,steps,reward,min_r,mean_r,sum_r,last_r,min_q,mean_q,sum_q,last_q".split(",")),
                columns.subList(0, 14));
    }

    @Test
    void problemBatchingIsDeterministicAndMatchesTheScorersPerProblem(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample());
        ScoringConfig config = cliLike(ScoringConfig.rsr(tiny)).withBatching(ScoringConfig.Batching.PROBLEM).withChunk(4);
        new SparkScorer(config.withPartitions(1)).score(SparkScorer.jsonlLines(spark, in.toString())).write(dir.resolve("p1").toString(),
                SaveMode.Overwrite);
        new SparkScorer(config.withPartitions(3)).score(SparkScorer.jsonlLines(spark, in.toString()).repartition(3))
                .write(dir.resolve("p3").toString(), SaveMode.Overwrite);
        Map<String, Row> p1 = read(dir.resolve("p1/rsr"));
        Map<String, Row> p3 = read(dir.resolve("p3/rsr"));
        assertEquals(18, p3.size());
        assertSameRows(p1, p3);

        // the same as panscore's scorer on each problem's trajectories sorted by id, in windows of 4
        List<Trajectory> all = new ArrayList<>();
        new TrajectoryJsonl(new BufferedReader(new StringReader(sample())), e -> {
            throw e;
        }).forEachRemaining(all::add);
        Map<String, List<Trajectory>> byProblem = all.stream().sorted(Comparator.comparing(Trajectory::id))
                .collect(Collectors.groupingBy(Trajectory::problem, LinkedHashMap::new, Collectors.toList()));
        Map<String, TrajectoryScore> expected = new TreeMap<>();
        try (Model m = Model.load(Path.of(tiny)); Engine e = m.newEngine(EngineOptions.defaults().withContextSize(1024).withThreads(1))) {
            TrajectoryScorer scorer = new TrajectoryScorer(e, config.trajectoryOptions());
            for (List<Trajectory> group : byProblem.values()) {
                for (TrajectoryScorer.Outcome o : scorer.scoreAll(group)) {
                    TrajectoryScore s = ((TrajectoryScorer.Scored) o).score();
                    expected.put(s.id(), s);
                }
            }
        }
        assertEquals(expected.keySet(), p3.keySet());
        // and within packing's ~1e-4 of the CLI (each trajectory alone)
        Map<String, JsonNode> cli = cli(dir.resolve("cli.jsonl"), "rsr", "--model", tiny, "--in", in.toString(), "--chunk", "1");
        for (String id : expected.keySet()) {
            TrajectoryScore s = expected.get(id);
            Row r = p3.get(id);
            assertEquals(s.tokenCount(), (int) r.getAs("tokens"), id);
            assertEquals(s.meanSurprisal(), (double) r.getAs("mean_surprisal"), id);
            assertEquals(s.meanClippedRank(), (double) r.getAs("mean_clipped_rank"), id);
            assertEquals(s.rsr(), (double) r.getAs("rsr"), id);
            assertEquals(s.meanEntropy(), (double) r.getAs("mean_entropy"), id);
            assertEquals(s.perplexity(), (double) r.getAs("perplexity"), id);
            assertEquals(cli.get(id).get("mean_surprisal").asDouble(), (double) r.getAs("mean_surprisal"), 1e-4, id);
            assertEquals(cli.get(id).get("mean_entropy").asDouble(), (double) r.getAs("mean_entropy"), 1e-4, id);
            assertEquals(cli.get(id).get("mean_clipped_rank").asDouble(), (double) r.getAs("mean_clipped_rank"), 1e-9, id);
        }
    }

    /** The sample, plus: bad JSON, a missing response, a repeated id, and an empty (unscorable) response. */
    private static String withBadRows() throws IOException {
        String[] lines = sample().split("\n");
        return String.join("\n", lines) + "\n{broken\n{\"id\": \"x\", \"prompt\": \"p\"}\n\n" + lines[0] + "\n"
                + "{\"id\": \"empty\", \"problem\": \"q\", \"prompt\": \"p\", \"response\": \"\"}\n";
    }

    @Test
    void malformedRowsAreCountedAndReportedNotFatal(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), withBadRows());
        SparkScorer.Scored scored = new SparkScorer(cliLike(ScoringConfig.rsr(tiny)).withPartitions(3))
                .score(SparkScorer.jsonlLines(spark, in.toString()));
        SparkScorer.Report r = scored.write(dir.resolve("out").toString(), SaveMode.Overwrite);
        assertEquals(22, r.rows());
        assertEquals(18, r.rsrScored());
        assertEquals(3, r.malformed());
        assertEquals(1, r.unscorable());
        assertEquals(3, r.counters().malformed());
        assertEquals(1, r.counters().unscorable());

        Map<Long, Row> bad = new TreeMap<>();
        spark.read().parquet(dir.resolve("out/bad_rows").toString()).collectAsList().forEach(row -> bad.put(row.getAs("record"), row));
        assertEquals(List.of(19L, 20L, 22L, 23L), List.copyOf(bad.keySet()));
        assertTrue(bad.get(19L).<String>getAs("reason").startsWith("line 19: not valid JSON"), bad.get(19L).toString());
        assertEquals("line 20: missing \"response\"", bad.get(20L).getAs("reason"));
        assertEquals("x", bad.get(20L).getAs("id"));
        assertEquals("line 22: duplicate id \"sum-1-100/careful/0\" (first on line 1)", bad.get(22L).getAs("reason"));
        assertEquals("malformed", bad.get(22L).getAs("status"));
        assertEquals("unscorable", bad.get(23L).getAs("status"));
        assertEquals("trajectory \"empty\" cannot be scored: the response is empty", bad.get(23L).getAs("reason"));
        assertEquals("{broken", bad.get(19L).getAs("line"));
        assertEquals(18, spark.read().parquet(dir.resolve("out/rsr").toString()).count());
    }

    @Test
    void malformedRowsAreFatalWhenConfigured(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), withBadRows());
        ScoringConfig fail = cliLike(ScoringConfig.rsr(tiny)).withOnError(ScoringConfig.OnError.FAIL);
        RejectedRowException e = assertThrows(RejectedRowException.class,
                () -> new SparkScorer(fail).score(SparkScorer.jsonlLines(spark, in.toString())));
        assertTrue(e.getMessage().startsWith("line 19: not valid JSON"), e.getMessage());

        // an unscorable trajectory fails the job on the executor
        String[] lines = withBadRows().split("\n");
        Path unscorable = Files.writeString(dir.resolve("unscorable.jsonl"), lines[0] + "\n" + lines[lines.length - 1] + "\n");
        SparkScorer.Scored scored = new SparkScorer(fail).score(SparkScorer.jsonlLines(spark, unscorable.toString()));
        SparkException se = assertThrows(SparkException.class, () -> scored.write(dir.resolve("out").toString(), SaveMode.Overwrite));
        Throwable why = SparkScoreJob.rejection(se);
        assertNotNull(why, se.toString());
        assertEquals("trajectory \"empty\" cannot be scored: the response is empty", why.getMessage());

        // the job: status 1 and the reason; status 0 when skipping, with the counts printed
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] common = {"--in", in.toString(), "--rsr-model", tiny, "--ctx", CTX, "--threads", "1"};
        int status = SparkScoreJob.run(concat(common, "--out", dir.resolve("job-fail").toString(), "--on-error", "fail"), new PrintWriter(out, true),
                new PrintWriter(err, true));
        assertEquals(1, status, err.toString());
        assertTrue(err.toString().contains("line 19: not valid JSON"), err.toString());
        out = new StringWriter();
        status = SparkScoreJob.run(concat(common, "--out", dir.resolve("job").toString()), new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, status, err.toString());
        assertTrue(out.toString().contains("18 RSR scored, 0 PRM scored, 3 malformed, 1 unscorable"), out.toString());
    }

    @Test
    void parquetInputGivesTheSameResults(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("in.jsonl"), sample() + "{\"id\": \"x\", \"problem\": \"p\", \"prompt\": \"p\"}\n");
        Path parquet = dir.resolve("in.parquet");
        spark.read().json(in.toString()).write().parquet(parquet.toString());
        ScoringConfig config = cliLike(ScoringConfig.rsr(tiny)).withStepDelimiter("\n\n");
        SparkScorer.Report fromParquet = new SparkScorer(config).score(SparkScorer.parquetLines(spark, parquet.toString()))
                .write(dir.resolve("pq").toString(), SaveMode.Overwrite);
        assertEquals(18, fromParquet.rsrScored());
        assertEquals(1, fromParquet.malformed());
        List<Row> bad = spark.read().parquet(dir.resolve("pq/bad_rows").toString()).collectAsList();
        assertTrue(bad.getFirst().<String>getAs("reason").endsWith("missing \"response\""), bad.toString());
        new SparkScorer(config).score(SparkScorer.jsonlLines(spark, in.toString())).write(dir.resolve("jl").toString(), SaveMode.Overwrite);
        Map<String, Row> a = read(dir.resolve("pq/rsr"));
        Map<String, Row> b = read(dir.resolve("jl/rsr"));
        assertEquals(a.keySet(), b.keySet());
        for (String id : a.keySet()) { // all but the record, which is the row number of each input
            for (String f : List.of("problem", "teacher", "tokens", "mean_surprisal", "mean_clipped_rank", "rsr", "mean_entropy", "perplexity",
                    "step_stats")) {
                Object expected = b.get(id).getAs(f);
                assertEquals(expected, a.get(id).getAs(f), id + " " + f);
            }
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
