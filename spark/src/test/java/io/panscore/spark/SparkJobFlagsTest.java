package io.panscore.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * The Spark job's PRM, batching and format flags, checked by values computed outside panscore's
 * scorers: rewards against β Σ (log π_policy − log π_ref) from the float64 reference on tokens built
 * here (so --prm-policy and --prm-ref swapped would flip every sign), RSR against the reference
 * with --r-max, and the same numbers from Parquet input and with --batching problem.
 */
class SparkJobFlagsTest {

    private static SparkSession spark;
    private static String tiny;
    private static String ref;

    /** Three trajectories with plain prompts (template none), two problems. */
    private static final String INPUT = String.join("\n",
            "{\"id\": \"a\", \"problem\": \"p1\", \"teacher\": \"t\", \"prompt\": \"Add 17 and 25.\", \"response\": \"17 + 25 = 42.\\n\\nThe answer is 42.\"}",
            "{\"id\": \"b\", \"problem\": \"p1\", \"teacher\": \"u\", \"prompt\": \"Add 17 and 25.\", \"response\": \"It is 32.\\n\\nNo wait, 42.\"}",
            "{\"id\": \"c\", \"problem\": \"p2\", \"teacher\": \"t\", \"prompt\": \"Is 91 prime?\", \"response\": \"91 = 7 x 13, so no.\"}") + "\n";

    @BeforeAll
    static void start() {
        tiny = Fixtures.tiny().toString();
        ref = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7)).toString();
        spark = LocalSpark.start("panscore-spark-flags-test", 2);
    }

    @AfterAll
    static void stop() {
        LocalSpark.stop(spark);
    }

    /** Per trajectory: {Σ log π_tiny, Σ log π_ref, Σ min(rank, 9) under tiny, Σ surprisal under tiny, tokens}. */
    private static Map<String, double[]> expected() {
        Map<String, double[]> out = new TreeMap<>();
        String[][] rows = {{"a", "Add 17 and 25.", "17 + 25 = 42.\n\nThe answer is 42."}, {"b", "Add 17 and 25.", "It is 32.\n\nNo wait, 42."},
                {"c", "Is 91 prime?", "91 = 7 x 13, so no."}};
        try (Model p = Model.load(Path.of(tiny)); Model r = Model.load(Path.of(ref));
                Engine pe = p.newEngine(EngineOptions.defaults().withContextSize(512)); Engine re = r.newEngine(EngineOptions.defaults().withContextSize(512))) {
            int vocab = p.info().vocabSize();
            for (String[] row : rows) {
                int[] prompt = p.tokenize(row[1], true, false);
                int[] response = p.tokenize(row[2], false, false);
                int[] all = Arrays.copyOf(prompt, prompt.length + response.length);
                System.arraycopy(response, 0, all, prompt.length, response.length);
                Sequence seq = Sequence.from(all, prompt.length);
                float[] lp = pe.logits(List.of(seq));
                float[] lr = re.logits(List.of(seq));
                double[] e = new double[5];
                for (int i = 0; i < response.length; i++) {
                    ReferenceKernel.Stats sp = ReferenceKernel.stats(lp, i * vocab, vocab, response[i], 1, 0);
                    ReferenceKernel.Stats sr = ReferenceKernel.stats(lr, i * vocab, vocab, response[i], 1, 0);
                    e[0] += sp.logprob();
                    e[1] += sr.logprob();
                    e[2] += Math.min(sp.rank(), 9);
                    e[3] -= sp.logprob();
                }
                e[4] = response.length;
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

    private static int job(List<String> args, StringWriter err) {
        return SparkScoreJob.run(args.toArray(String[]::new), new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
    }

    @Test
    void prmSignBetaRMaxBatchingAndInputFormat(@TempDir Path dir) throws IOException {
        Path jsonl = Files.writeString(dir.resolve("in.jsonl"), INPUT);
        Map<String, double[]> want = expected();
        double beta = 0.5;
        List<String> common = List.of("--rsr-model", tiny, "--r-max", "9", "--step-delimiter", "\\n\\n", "--prm-policy", tiny, "--prm-ref", ref,
                "--beta", Double.toString(beta), "--delimiter", "\\n\\n", "--template", "none", "--ctx", "512", "--batch", "256", "--ubatch", "128",
                "--threads", "1", "--gpu-layers", "0", "--on-error", "skip", "--save-mode", "overwrite");
        List<String> single = new ArrayList<>(List.of("--in", jsonl.toString(), "--input-format", "jsonl", "--out", dir.resolve("single").toString(),
                "--batching", "single", "--partitions", "2"));
        single.addAll(common);
        StringWriter err = new StringWriter();
        assertEquals(0, job(single, err), err.toString());
        Map<String, Row> prm = read(dir.resolve("single/prm"));
        Map<String, Row> rsr = read(dir.resolve("single/rsr"));
        assertEquals(want.keySet(), prm.keySet());
        int negative = 0;
        int positive = 0;
        for (Map.Entry<String, double[]> e : want.entrySet()) {
            double[] w = e.getValue();
            double reward = beta * (w[0] - w[1]);
            double tol = beta * 2.4e-6 * (2 * w[4] + Math.abs(w[0]) + Math.abs(w[1])); // the kernel's error bound (docs/TESTING.md)
            Row p = prm.get(e.getKey());
            assertEquals(reward, (double) p.getAs("reward"), tol, e.getKey() + ": reward = beta * (log pi_policy - log pi_ref)");
            assertEquals(beta, (double) p.getAs("beta"), 0);
            assertEquals((int) w[4], (int) p.getAs("tokens"));
            assertTrue(Math.abs(reward) > 100 * tol, e.getKey() + ": the sign must be decidable");
            negative += reward < 0 ? 1 : 0;
            positive += reward > 0 ? 1 : 0;
            Row r = rsr.get(e.getKey());
            assertEquals(w[2] / w[4], (double) r.getAs("mean_clipped_rank"), 1e-12, e.getKey());
            assertEquals(w[2] / w[3], (double) r.getAs("rsr"), 1e-5 * w[2] / w[3], e.getKey());
            assertTrue(!r.isNullAt(r.fieldIndex("step_stats")), e.getKey());
        }
        assertTrue(negative + positive == 3, "rewards " + negative + " negative, " + positive + " positive");
        assertEquals(2, prm.get("a").getList(prm.get("a").fieldIndex("step_rewards")).size(), "a has two \\n\\n steps");

        // Parquet input and --batching problem: the same rewards (within packing's ~1e-4), every row once
        Path parquet = dir.resolve("in.parquet");
        spark.read().json(jsonl.toString()).write().parquet(parquet.toString());
        List<String> problem = new ArrayList<>(List.of("--in", parquet.toString(), "--input-format", "parquet", "--out",
                dir.resolve("problem").toString(), "--batching", "problem", "--chunk", "2", "--partitions", "3"));
        problem.addAll(common);
        assertEquals(0, job(problem, err), err.toString());
        Map<String, Row> prm2 = read(dir.resolve("problem/prm"));
        assertEquals(want.keySet(), prm2.keySet());
        for (Map.Entry<String, double[]> e : want.entrySet()) {
            double reward = beta * (e.getValue()[0] - e.getValue()[1]);
            assertEquals(reward, (double) prm2.get(e.getKey()).getAs("reward"), 1e-3, e.getKey());
        }

        // --no-ref: the policy's log-probs alone
        List<String> noRef = new ArrayList<>(List.of("--in", jsonl.toString(), "--out", dir.resolve("noref").toString(), "--prm-policy", tiny,
                "--no-ref", "--beta", "2", "--template", "none", "--ctx", "512", "--threads", "1"));
        assertEquals(0, job(noRef, err), err.toString());
        Map<String, Row> prm3 = read(dir.resolve("noref/prm"));
        for (Map.Entry<String, double[]> e : want.entrySet()) {
            assertEquals(2 * e.getValue()[0], (double) prm3.get(e.getKey()).getAs("reward"), 2 * 2.4e-6 * (e.getValue()[4] + Math.abs(e.getValue()[0])),
                    e.getKey());
        }
        // usage errors: status 1 with the reason
        StringWriter err2 = new StringWriter();
        assertEquals(1, job(List.of("--in", jsonl.toString(), "--out", dir.resolve("x").toString(), "--prm-policy", tiny), err2));
        assertTrue(err2.toString().contains("give --prm-ref, or --no-ref"), err2.toString());
    }
    @Test
    void saveModeErrorIfExistsWritesNewOutputAndRefusesAnExistingOne(@TempDir Path dir) throws IOException {
        Path jsonl = Files.writeString(dir.resolve("in.jsonl"), INPUT);
        Map<String, double[]> want = expected();
        String out = dir.resolve("out").toString();
        List<String> args = List.of("--in", jsonl.toString(), "--out", out, "--rsr-model", tiny, "--r-max", "9", "--template", "none", "--ctx", "512",
                "--threads", "1", "--save-mode", "errorifexists");
        StringWriter err = new StringWriter();
        assertEquals(0, job(args, err), err.toString());
        Map<String, Row> rsr = read(dir.resolve("out/rsr"));
        assertEquals(want.keySet(), rsr.keySet());
        for (Map.Entry<String, double[]> e : want.entrySet()) {
            double[] w = e.getValue();
            assertEquals(w[2] / w[3], (double) rsr.get(e.getKey()).getAs("rsr"), 1e-5 * w[2] / w[3], e.getKey());
        }
        // a second run onto the same --out fails with the path named and leaves the first run's rows
        StringWriter err2 = new StringWriter();
        int status;
        String message;
        try {
            status = job(List.of("--in", jsonl.toString(), "--out", out, "--rsr-model", tiny, "--r-max", "3", "--template", "none", "--ctx", "512",
                    "--threads", "1", "--save-mode", "errorifexists"), err2);
            message = err2.toString();
        } catch (RuntimeException e) {
            status = -1;
            message = String.valueOf(e.getMessage());
        }
        assertEquals(1, status, "errorifexists on an existing output must fail: " + message);
        assertTrue(message.startsWith("panscore-spark: ") && message.contains("already exists") && message.contains(dir.resolve("out").toString()), message);
        assertTrue(!message.contains("\tat "), "a message, not a stack trace: " + message);
        Map<String, Row> again = read(dir.resolve("out/rsr"));
        for (Map.Entry<String, double[]> e : want.entrySet()) {
            double[] w = e.getValue();
            assertEquals(w[2] / w[3], (double) again.get(e.getKey()).getAs("rsr"), 1e-5 * w[2] / w[3], e.getKey() + ": the r-max 9 rows stay");
        }
        // the same second run with overwrite replaces them: --r-max 3 clips harder, so the RSR changes
        assertEquals(0, job(List.of("--in", jsonl.toString(), "--out", out, "--rsr-model", tiny, "--r-max", "3", "--template", "none", "--ctx", "512",
                "--threads", "1", "--save-mode", "overwrite"), new StringWriter()));
        Map<String, Row> replaced = read(dir.resolve("out/rsr"));
        assertEquals(want.keySet(), replaced.keySet());
        assertTrue(want.keySet().stream().anyMatch(id -> Math.abs((double) replaced.get(id).getAs("rsr") - (double) rsr.get(id).getAs("rsr")) > 1e-6),
                "overwrite replaced the rows");
    }
}
