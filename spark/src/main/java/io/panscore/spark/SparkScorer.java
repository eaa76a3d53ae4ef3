package io.panscore.spark;

import static org.apache.spark.sql.functions.broadcast;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryJsonl;
import java.util.List;
import java.util.Objects;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * Scores a dataset of trajectories with RSR and/or implicit PRM on Spark: the reusable function
 * behind {@link SparkScoreJob}.
 *
 * <pre>{@code
 * SparkScorer scorer = new SparkScorer(ScoringConfig.rsr("/models/student.gguf").withPrm("/models/prm.gguf", "/models/ref.gguf"));
 * SparkScorer.Scored scored = scorer.score(SparkScorer.jsonlLines(spark, "s3://bucket/trajectories/*.jsonl"));
 * SparkScorer.Report report = scored.write("s3://bucket/scores", SaveMode.Overwrite); // rsr/, prm/, bad_rows/
 * }</pre>
 *
 * Input is one JSON text per trajectory with the CLI's fields ({@code id, problem, teacher, prompt |
 * messages, response, steps}), from JSON lines ({@link #jsonlLines}) or from the rows of any
 * DataFrame with those columns, e.g. Parquet ({@link #parquetLines}, {@link #rowsAsLines}); every
 * row is validated by {@link TrajectoryJsonl#parse}, the CLI's parser, and a repeated id is
 * malformed after its first occurrence, as in the CLI. Each row is scored alone or with its problem
 * (see {@link ScoringConfig.Batching}), so results do not depend on how the input is partitioned.
 */
public final class SparkScorer {

    private final ScoringConfig config;

    public SparkScorer(ScoringConfig config) {
        this.config = Objects.requireNonNull(config, "config");
    }

    public ScoringConfig config() {
        return config;
    }

    /** Lines of JSON-lines files as {@link Schemas#LINES}; blank lines are dropped, record = line number. */
    public static Dataset<Row> jsonlLines(SparkSession spark, String... paths) {
        return indexed(spark, spark.read().textFile(paths));
    }

    /** Rows of Parquet files with the CLI's fields as {@link Schemas#LINES} (JSON text per row, record = row number). */
    public static Dataset<Row> parquetLines(SparkSession spark, String... paths) {
        return rowsAsLines(spark.read().parquet(paths));
    }

    /**
     * Any DataFrame of trajectories (columns {@code id, problem, teacher, prompt, messages
     * (array<struct<role, content>>), response, steps (array<string>)}; absent columns and nulls
     * are missing fields) as {@link Schemas#LINES}.
     */
    public static Dataset<Row> rowsAsLines(Dataset<Row> trajectories) {
        return indexed(trajectories.sparkSession(), trajectories.toJSON());
    }

    private static Dataset<Row> indexed(SparkSession spark, Dataset<String> text) {
        JavaRDD<Row> rows = text.javaRDD().zipWithIndex()
                .filter(t -> t._1() != null && !t._1().isBlank())
                .map(t -> RowFactory.create(t._2() + 1, t._1()));
        return spark.createDataFrame(rows, Schemas.LINES);
    }

    /** Parses one line: its id and problem, or why it is malformed (and its id, if it has one). */
    static final class Parse implements MapFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private static final ObjectMapper JSON = new ObjectMapper();

        @Override
        public Row call(Row r) {
            long record = r.getLong(0);
            String line = r.getString(1);
            try {
                Trajectory t = TrajectoryJsonl.parse(line, record);
                return RowFactory.create(record, t.id(), t.problem(), line, null);
            } catch (RuntimeException e) {
                String why = e.getMessage() != null && e.getMessage().startsWith("line ") ? e.getMessage() : "line " + record + ": " + e.getMessage();
                return RowFactory.create(record, idOf(line), null, line, why);
            }
        }

        private static String idOf(String line) {
            try {
                JsonNode id = JSON.readTree(line).path("id");
                return id.isTextual() || id.isNumber() ? id.asText() : null;
            } catch (Exception e) {
                return null;
            }
        }
    }

    /**
     * Parses and checks the lines ({@link Schemas#PARSED}): an id seen on an earlier record makes
     * the later rows malformed ("duplicate id"), as in the CLI.
     */
    public static Dataset<Row> parse(Dataset<Row> lines) {
        Dataset<Row> parsed = lines.map(new Parse(), Encoders.row(Schemas.PARSED));
        Dataset<Row> firsts = parsed.filter(col("error").isNull()).groupBy("id")
                .agg(min("record").as("first_record"), count(lit(1)).as("n"))
                .filter(col("n").gt(1)).select(col("id").as("dup_id"), col("first_record"));
        Dataset<Row> joined = parsed.join(broadcast(firsts), parsed.col("id").equalTo(firsts.col("dup_id")), "left_outer");
        Column duplicate = col("error").isNull().and(col("first_record").isNotNull()).and(col("record").notEqual(col("first_record")));
        Column error = when(duplicate, concat(lit("line "), col("record").cast("string"), lit(": duplicate id \""), col("id"),
                lit("\" (first on line "), col("first_record").cast("string"), lit(")"))).otherwise(col("error"));
        return joined.select(col("record"), col("id"), col("problem"), col("line"), error.as("error"));
    }

    /**
     * Scores lines ({@link Schemas#LINES}) lazily: nothing runs until the result is written or
     * otherwise acted on, except that under {@link ScoringConfig.OnError#FAIL} a validation job runs
     * first and throws {@link RejectedRowException} on the first malformed row, before any scoring.
     */
    public Scored score(Dataset<Row> lines) {
        SparkSession spark = lines.sparkSession();
        Counters counters = new Counters(spark.sparkContext());
        Dataset<Row> checked = parse(lines);
        if (config.onError() == ScoringConfig.OnError.FAIL) {
            List<Row> bad = checked.filter(col("error").isNotNull()).orderBy("record").select("error").limit(1).collectAsList();
            if (!bad.isEmpty()) {
                throw new RejectedRowException(bad.getFirst().getString(0));
            }
        }
        ScoreFunction fn = new ScoreFunction(config, counters);
        Dataset<Row> results;
        if (config.batching() == ScoringConfig.Batching.SINGLE) {
            // rows are scored alone, so any spread over the slots is fine: round-robin
            int n = config.partitions() > 0 ? config.partitions() : spark.sparkContext().defaultParallelism();
            results = checked.repartition(n).mapPartitions(fn, Encoders.row(Schemas.RESULT));
        } else {
            Dataset<Row> ok = checked.filter(col("error").isNull());
            // an explicit count: adaptive execution would merge the (small, but costly to score)
            // partitions of repartition(col) by their size in bytes, down to one
            int n = config.partitions() > 0 ? config.partitions() : Integer.parseInt(spark.conf().get("spark.sql.shuffle.partitions"));
            ok = ok.repartition(n, col("problem"));
            Dataset<Row> scored = ok.sortWithinPartitions("problem", "id").mapPartitions(fn, Encoders.row(Schemas.RESULT));
            Dataset<Row> bad = checked.filter(col("error").isNotNull()).mapPartitions(fn, Encoders.row(Schemas.RESULT));
            results = scored.union(bad);
        }
        return new Scored(config, results, counters);
    }

    /**
     * What a scoring run counted: exact counts from the results, and the accumulators.
     *
     * @param truncated rows scored after being cut to the token limit (their RSR or PRM result has
     *                  {@code truncated_from}); they are among the scored rows
     * @param unscorable rows that could not be scored (failed); written to {@code bad_rows/}
     */
    public record Report(long rows, long rsrScored, long prmScored, long malformed, long unscorable, long truncated, long tokens, double seconds,
            Counters counters) {

        public double rowsPerSecond() {
            return rows / Math.max(seconds, 1e-9);
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT,
                    "%,d rows in %.1f s (%.2f rows/s, %,d tokens): %,d RSR scored, %,d PRM scored, %,d malformed, %,d unscorable, %,d truncated",
                    rows, seconds, rowsPerSecond(), tokens, rsrScored, prmScored, malformed, unscorable, truncated);
        }
    }

    /** The results of {@link #score}: lazy datasets, and {@link #write} to run them. */
    public static final class Scored {
        private final ScoringConfig config;
        private final Dataset<Row> results;
        private final Counters counters;

        Scored(ScoringConfig config, Dataset<Row> results, Counters counters) {
            this.config = config;
            this.results = results;
            this.counters = counters;
        }

        /** One row per input row ({@link Schemas#RESULT}). */
        public Dataset<Row> results() {
            return results;
        }

        /** RSR results: the CLI's columns ({@link Schemas#RSR}) and {@code record}. */
        public Dataset<Row> rsr() {
            return results.filter(col("rsr").isNotNull()).select(col("rsr.*"), col("record"));
        }

        /** PRM results: the CLI's columns ({@link Schemas#PRM}) and {@code record}. */
        public Dataset<Row> prm() {
            return results.filter(col("prm").isNotNull()).select(col("prm.*"), col("record"));
        }

        /** Malformed rows and unscorable trajectories with the reason ({@link Schemas#BAD}). */
        public Dataset<Row> badRows() {
            return results.filter(col("status").notEqual(lit(ScoreFunction.OK))).select("record", "id", "status", "reason", "line");
        }

        public Counters counters() {
            return counters;
        }

        /**
         * Scores once (the results are persisted while written) and writes Parquet under
         * {@code out}: {@code rsr/} and/or {@code prm/}, and {@code bad_rows/} (possibly empty).
         * Spark's file commit protocol makes a retried task's output replace, not add to, the failed
         * attempt's, and with {@link SaveMode#Overwrite} a rerun replaces the previous run's files;
         * results are deterministic, so either way the same rows come out.
         */
        public Report write(String out, SaveMode mode) {
            long t0 = System.nanoTime();
            results.persist(StorageLevel.MEMORY_AND_DISK());
            try {
                if (config.scoresRsr()) {
                    rsr().write().mode(mode).parquet(out + "/rsr");
                }
                if (config.scoresPrm()) {
                    prm().write().mode(mode).parquet(out + "/prm");
                }
                badRows().write().mode(mode).parquet(out + "/bad_rows");
                Row c = results.agg(count(lit(1)), count(col("rsr")), count(col("prm")),
                        sum(when(col("status").equalTo(ScoreFunction.MALFORMED), 1).otherwise(0)),
                        sum(when(col("status").equalTo(ScoreFunction.UNSCORABLE), 1).otherwise(0)),
                        sum(col("rsr.tokens")), sum(col("prm.tokens")),
                        sum(when(col("rsr.truncated_from").isNotNull().or(col("prm.truncated_from").isNotNull()), 1).otherwise(0))).first();
                long tokens = (c.isNullAt(5) ? 0 : c.getLong(5)) + (c.isNullAt(6) ? 0 : c.getLong(6));
                long truncated = c.isNullAt(7) ? 0 : c.getLong(7);
                return new Report(c.getLong(0), c.getLong(1), c.getLong(2), c.getLong(3), c.getLong(4), truncated, tokens,
                        (System.nanoTime() - t0) / 1e9, counters);
            } finally {
                results.unpersist(false);
            }
        }
    }
}
