package io.panscore.spark;

import io.panscore.api.prm.PrmOptions;
import io.panscore.api.trajectory.Rsr;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code spark-submit --class io.panscore.spark.SparkScoreJob panscore-spark.jar --in IN --out OUT
 * --rsr-model M [--prm-policy P --prm-ref R | --no-ref]}: scores a trajectory dataset on Spark and
 * writes Parquet under OUT ({@code rsr/}, {@code prm/}, {@code bad_rows/}). The options are the
 * CLI's ({@code panscore rsr}, {@code panscore prm}) where they exist. Exit status 0 when it ran
 * (malformed rows skipped and counted), 1 when it failed (a rejected row under
 * {@code --on-error fail}, an unreadable model, ...), 2 for usage errors.
 */
@Command(name = "panscore-spark", mixinStandardHelpOptions = true,
        description = {"Score a dataset of trajectories (JSONL or Parquet) with RSR and/or implicit PRM on Spark; write Parquet."})
public final class SparkScoreJob implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, split = ",", description = "input files or directories (comma-separated)")
    String[] in;

    @Option(names = "--input-format", description = "jsonl or parquet (default: parquet when the first input ends with .parquet, else jsonl)")
    String inputFormat;

    @Option(names = "--out", required = true, description = "output directory: rsr/, prm/ and bad_rows/ are written under it (Parquet)")
    String out;

    @Option(names = "--save-mode", description = "overwrite (a rerun replaces the outputs) or errorifexists. Default: ${DEFAULT-VALUE}")
    String saveMode = "overwrite";

    @Option(names = "--rsr-model", description = "student model (GGUF) for RSR")
    String rsrModel;

    @Option(names = "--r-max", description = "RSR rank clipping. Default: ${DEFAULT-VALUE}")
    int rMax = Rsr.DEFAULT_R_MAX;

    @Option(names = "--step-delimiter", description = "RSR per-step statistics, splitting responses on this text (escapes \\n \\t understood)")
    String stepDelimiter;

    @Option(names = "--prm-policy", description = "PRM / policy model (GGUF) for implicit process rewards")
    String prmPolicy;

    @Option(names = "--prm-ref", description = "reference model (GGUF); required with --prm-policy unless --no-ref")
    String prmRef;

    @Option(names = "--no-ref", description = "PRM without a reference model: l_i = log pi_policy")
    boolean noRef;

    @Option(names = "--beta", description = "PRM beta. Default: ${DEFAULT-VALUE}")
    double beta = PrmOptions.DEFAULT_BETA;

    @Option(names = "--delimiter", description = "PRM step delimiter unless a row gives \"steps\". Default: \\\\n\\\\n")
    String delimiter = "\\n\\n";

    @Option(names = "--template", description = "prompt rendering: model, none, or a llama.cpp template name. Default: ${DEFAULT-VALUE}")
    String template = "model";

    @Option(names = "--batching", description = "single (each trajectory alone; equals the CLI with --chunk 1, bit for bit) or problem (a problem's trajectories together, sorted by id, --chunk per call; shares prompts, faster). Default: ${DEFAULT-VALUE}")
    String batching = "single";

    @Option(names = "--chunk", description = "trajectories per native call with --batching problem. Default: ${DEFAULT-VALUE}")
    int chunk = 64;

    @Option(names = "--partitions", description = "partitions to score in (0: default parallelism / spark.sql.shuffle.partitions). Default: ${DEFAULT-VALUE}")
    int partitions = 0;

    @Option(names = "--on-error", description = "skip (count malformed rows and unscorable trajectories, write them to bad_rows/ with the reason) or fail (stop the job). Default: ${DEFAULT-VALUE}")
    String onError = "skip";

    @Option(names = "--ctx", description = "KV cache size in tokens (0 = model's, at most 4096); longer trajectories are cut to it "
            + "(as to --max-tokens) and still scored. Default: ${DEFAULT-VALUE}")
    int contextSize = 0;

    @Option(names = "--max-tokens", description = "cut prompt + response to this many tokens (and to --ctx) and score what is kept, as the CLI does "
            + "(the released RSR code's max_model_len); such rows have truncated_from and are counted. Default: ${DEFAULT-VALUE}")
    int maxTokens = io.panscore.api.trajectory.TrajectoryOptions.DEFAULT_MAX_TOKENS;

    @Option(names = "--batch", description = "tokens per decode (0 = 512). Default: ${DEFAULT-VALUE}")
    int batchSize = 0;

    @Option(names = "--ubatch", description = "micro-batch size (0 = 512). Default: ${DEFAULT-VALUE}")
    int microBatchSize = 0;

    @Option(names = "--threads", description = "threads per engine (0 = spark.task.cpus). Default: ${DEFAULT-VALUE}")
    int threads = 0;

    @Option(names = "--gpu-layers", description = "layers to offload to the task's GPU (-1 = all). Default: ${DEFAULT-VALUE}")
    int gpuLayers = 0;

    @Option(names = "--master", description = "Spark master when not launched by spark-submit (default: spark-submit's, else local[*])")
    String master;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the job and returns the exit status (for tests and scripts). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new SparkScoreJob());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Throwable root = rejection(e);
            // AnalysisException: Spark refusing the job as asked, e.g. --save-mode errorifexists onto an existing --out
            if (root != null || e instanceof IllegalArgumentException || e instanceof io.panscore.kernel.PanscoreException
                    || e instanceof org.apache.spark.sql.AnalysisException) {
                commandLine.getErr().println("panscore-spark: " + (root != null ? root : e).getMessage());
                return 1;
            }
            throw e;
        });
        return cli.execute(args);
    }

    /** The {@link RejectedRowException} or panscore failure behind a (Spark-wrapped) exception, if any. */
    static Throwable rejection(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RejectedRowException || t instanceof io.panscore.kernel.PanscoreException) {
                return t;
            }
        }
        return null;
    }

    @Override
    public Integer call() {
        if (prmPolicy != null && (prmRef == null) != noRef) {
            throw new IllegalArgumentException(noRef ? "--no-ref and --prm-ref exclude each other" : "give --prm-ref, or --no-ref for no reference model");
        }
        if (prmPolicy == null && (prmRef != null || noRef)) {
            throw new IllegalArgumentException("--prm-ref and --no-ref need --prm-policy");
        }
        ScoringConfig config = new ScoringConfig(rsrModel, prmPolicy, prmRef, rMax, unescape(stepDelimiter), beta, unescape(delimiter), template,
                ScoringConfig.Batching.valueOf(batching.toUpperCase(Locale.ROOT)), chunk, partitions,
                ScoringConfig.OnError.valueOf(onError.toUpperCase(Locale.ROOT)), contextSize, batchSize, microBatchSize, threads, gpuLayers, maxTokens);
        SaveMode mode = switch (saveMode.toLowerCase(Locale.ROOT)) {
            case "overwrite" -> SaveMode.Overwrite;
            case "errorifexists", "error" -> SaveMode.ErrorIfExists;
            default -> throw new IllegalArgumentException("--save-mode must be overwrite or errorifexists, got " + saveMode);
        };
        SparkConf conf = new SparkConf();
        SparkSession.Builder builder = SparkSession.builder().appName("panscore-spark");
        if (master != null) {
            builder.master(master);
        } else if (!conf.contains("spark.master")) {
            builder.master("local[*]");
        }
        SparkSession spark = builder.getOrCreate();
        String fmt = inputFormat != null ? inputFormat.toLowerCase(Locale.ROOT) : in[0].endsWith(".parquet") ? "parquet" : "jsonl";
        Dataset<Row> lines = switch (fmt) {
            case "jsonl", "json" -> SparkScorer.jsonlLines(spark, in);
            case "parquet" -> SparkScorer.parquetLines(spark, in);
            default -> throw new IllegalArgumentException("--input-format must be jsonl or parquet, got " + inputFormat);
        };
        SparkScorer.Report report = new SparkScorer(config).score(lines).write(out, mode);
        PrintWriter stdout = spec.commandLine().getOut();
        stdout.println("panscore-spark: " + report);
        stdout.printf(Locale.ROOT, "panscore-spark: wrote %s%s%s/bad_rows%n", config.scoresRsr() ? out + "/rsr, " : "",
                config.scoresPrm() ? out + "/prm, " : "", out);
        return 0;
    }

    static String unescape(String s) {
        return s == null ? null : s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
