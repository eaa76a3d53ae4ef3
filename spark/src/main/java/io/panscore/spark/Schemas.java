package io.panscore.spark;

import static org.apache.spark.sql.types.DataTypes.DoubleType;
import static org.apache.spark.sql.types.DataTypes.IntegerType;
import static org.apache.spark.sql.types.DataTypes.LongType;
import static org.apache.spark.sql.types.DataTypes.StringType;
import static org.apache.spark.sql.types.DataTypes.createArrayType;
import static org.apache.spark.sql.types.DataTypes.createStructField;
import static org.apache.spark.sql.types.DataTypes.createStructType;

import io.panscore.api.prm.Aggregation;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The row types of a scoring job. The RSR and PRM outputs have the CLI's CSV columns, in its order
 * and under its names ({@code ScoreWriter.CSV_HEADER}, {@code PrmCommand.CSV_HEADER}), then the
 * per-step details its JSONL output has, then {@code record}: the row's 1-based position in the
 * input (the line number, for a single JSONL file).
 */
public final class Schemas {

    private Schemas() {}

    /** Input lines: 1-based record number and the JSON text of one trajectory. */
    public static final StructType LINES = createStructType(List.of(
            createStructField("record", LongType, false),
            createStructField("line", StringType, true)));

    /** Lines after parsing: the id and problem, or why the line is malformed. */
    public static final StructType PARSED = createStructType(List.of(
            createStructField("record", LongType, false),
            createStructField("id", StringType, true),
            createStructField("problem", StringType, true),
            createStructField("line", StringType, true),
            createStructField("error", StringType, true)));

    /** RSR's per-step statistics (the CLI's JSONL {@code steps} objects). */
    public static final StructType RSR_STEP = createStructType(List.of(
            createStructField("index", IntegerType, false),
            createStructField("tokens", IntegerType, false),
            createStructField("mean_entropy", DoubleType, false),
            createStructField("max_entropy", DoubleType, false),
            createStructField("min_logprob", DoubleType, false),
            createStructField("mean_clipped_rank", DoubleType, false)));

    /**
     * One RSR result: {@code id,problem,teacher,tokens,mean_surprisal,mean_clipped_rank,rsr,mean_entropy,perplexity} + steps, then
     * {@code truncated_from}: the token count of prompt + response before they were cut to the token limit (null when not cut).
     */
    public static final StructType RSR = createStructType(List.of(
            createStructField("id", StringType, false),
            createStructField("problem", StringType, false),
            createStructField("teacher", StringType, false),
            createStructField("tokens", IntegerType, false),
            createStructField("mean_surprisal", DoubleType, false),
            createStructField("mean_clipped_rank", DoubleType, false),
            createStructField("rsr", DoubleType, false),
            createStructField("mean_entropy", DoubleType, false),
            createStructField("perplexity", DoubleType, false),
            createStructField("step_stats", createArrayType(RSR_STEP, false), true),
            createStructField("truncated_from", IntegerType, true)));

    /** PRM's per-step rewards (the CLI's JSONL {@code steps} objects). */
    public static final StructType PRM_STEP = createStructType(List.of(
            createStructField("index", IntegerType, false),
            createStructField("tokens", IntegerType, false),
            createStructField("r", DoubleType, false),
            createStructField("q", DoubleType, false),
            createStructField("mean_entropy", DoubleType, false),
            createStructField("max_entropy", DoubleType, false),
            createStructField("min_logprob", DoubleType, false),
            createStructField("mean_clipped_rank", DoubleType, false)));

    /** The aggregate column names of the CLI, {@code min_r ... last_q}, in its order. */
    public static final List<String> PRM_AGGREGATES;

    /** One PRM result: {@code id,problem,teacher,tokens,steps,reward,min_r,...,last_q} + beta + steps + {@code truncated_from} (as RSR's). */
    public static final StructType PRM;

    static {
        List<String> aggs = new ArrayList<>();
        for (Aggregation.Over o : Aggregation.Over.values()) {
            for (Aggregation a : Aggregation.values()) {
                aggs.add(a.name().toLowerCase(Locale.ROOT) + "_" + o.name().toLowerCase(Locale.ROOT));
            }
        }
        PRM_AGGREGATES = List.copyOf(aggs);
        List<StructField> f = new ArrayList<>(List.of(
                createStructField("id", StringType, false),
                createStructField("problem", StringType, false),
                createStructField("teacher", StringType, false),
                createStructField("tokens", IntegerType, false),
                createStructField("steps", IntegerType, false),
                createStructField("reward", DoubleType, false)));
        for (String a : PRM_AGGREGATES) {
            f.add(createStructField(a, DoubleType, false));
        }
        f.add(createStructField("beta", DoubleType, false));
        f.add(createStructField("step_rewards", createArrayType(PRM_STEP, false), false));
        f.add(createStructField("truncated_from", IntegerType, true));
        PRM = createStructType(f);
    }

    /** A rejected row: why, and the row itself. */
    public static final StructType BAD = createStructType(List.of(
            createStructField("record", LongType, false),
            createStructField("id", StringType, true),
            createStructField("status", StringType, false),
            createStructField("reason", StringType, false),
            createStructField("line", StringType, true)));

    /** What the partition function emits per input row: status, and the results that exist. */
    public static final StructType RESULT = createStructType(List.of(
            createStructField("record", LongType, false),
            createStructField("id", StringType, true),
            createStructField("status", StringType, false),
            createStructField("reason", StringType, true),
            createStructField("line", StringType, true),
            createStructField("rsr", RSR, true),
            createStructField("prm", PRM, true)));
}
