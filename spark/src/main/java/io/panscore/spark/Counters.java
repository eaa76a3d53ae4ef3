package io.panscore.spark;

import java.io.Serializable;
import org.apache.spark.SparkContext;
import org.apache.spark.util.LongAccumulator;

/**
 * The job's accumulators, named {@code panscore.*} so they show in Spark's UI while the job runs.
 * Spark counts an accumulator update made in a transformation again when a partition is
 * recomputed; {@link SparkScorer.Scored#write} scores once (the results are persisted) and reports
 * exact counts from the results themselves beside these.
 */
public final class Counters implements Serializable {

    private static final long serialVersionUID = 1L;

    final LongAccumulator malformed;
    final LongAccumulator unscorable;
    final LongAccumulator rsrScored;
    final LongAccumulator prmScored;
    final LongAccumulator tokens;
    final LongAccumulator truncated;

    Counters(SparkContext sc) {
        malformed = sc.longAccumulator("panscore.malformed");
        unscorable = sc.longAccumulator("panscore.unscorable");
        rsrScored = sc.longAccumulator("panscore.rsr.scored");
        prmScored = sc.longAccumulator("panscore.prm.scored");
        tokens = sc.longAccumulator("panscore.tokens");
        truncated = sc.longAccumulator("panscore.truncated");
    }

    /** Malformed rows (bad JSON, missing or mistyped fields, duplicate ids) seen so far. */
    public long malformed() {
        return malformed.value();
    }

    /**
     * Well-formed trajectories that could not be scored (empty response, a prompt that leaves no room
     * for the response within the token limit, a failure in the engine).
     */
    public long unscorable() {
        return unscorable.value();
    }

    public long rsrScored() {
        return rsrScored.value();
    }

    public long prmScored() {
        return prmScored.value();
    }

    /**
     * Trajectories scored after being cut to the token limit ({@code --max-tokens}, or the engine's
     * context when smaller): rows with {@code truncated_from} set in their RSR or PRM result.
     */
    public long truncated() {
        return truncated.value();
    }

    /** Response tokens scored, summed over the models that score (RSR student, PRM policy). */
    public long tokens() {
        return tokens.value();
    }
}
