package io.panscore.spark;

import io.panscore.api.prm.PrmScore;
import io.panscore.api.prm.PrmScorer;
import io.panscore.api.prm.StepReward;
import io.panscore.api.trajectory.StepStats;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryJsonl;
import io.panscore.api.trajectory.TrajectoryScore;
import io.panscore.api.trajectory.TrajectoryScorer;
import io.panscore.api.prm.Aggregation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import org.apache.spark.SparkFiles;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * The partition function: rows of {@link Schemas#PARSED} in, rows of {@link Schemas#RESULT} out,
 * one per input row, lazily (memory is bounded by one group). A malformed row passes through as
 * "malformed"; the others are scored with engines leased from the executor's {@link EnginePool} for
 * the task's duration.
 *
 * <p>A group is what is scored together: one row ({@link ScoringConfig.Batching#SINGLE}), or the
 * consecutive rows of one problem ({@link ScoringConfig.Batching#PROBLEM}; the caller sorts them by
 * problem and id), cut by the scorers into windows of {@code chunk}.
 */
final class ScoreFunction implements MapPartitionsFunction<Row, Row> {

    private static final long serialVersionUID = 1L;

    static final String OK = "ok";
    static final String MALFORMED = "malformed";
    static final String UNSCORABLE = "unscorable";

    private final ScoringConfig config;
    private final Counters counters;

    ScoreFunction(ScoringConfig config, Counters counters) {
        this.config = Objects.requireNonNull(config);
        this.counters = Objects.requireNonNull(counters);
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        Run run = new Run(input);
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> run.release()); // also on failure or kill
        }
        return run;
    }

    private final class Run implements Iterator<Row> {
        private final Iterator<Row> input;
        private final ArrayDeque<Row> ready = new ArrayDeque<>();
        private Row pending;
        private EnginePool.Lease rsrLease;
        private EnginePool.Lease policyLease;
        private EnginePool.Lease referenceLease;
        private TrajectoryScorer rsrScorer;
        private PrmScorer prmScorer;

        Run(Iterator<Row> input) {
            this.input = input;
        }

        @Override
        public boolean hasNext() {
            while (ready.isEmpty() && (pending != null || input.hasNext())) {
                processGroup();
            }
            if (ready.isEmpty()) {
                release();
                return false;
            }
            return true;
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return ready.poll();
        }

        private Row take() {
            if (pending != null) {
                Row r = pending;
                pending = null;
                return r;
            }
            return input.next();
        }

        private void processGroup() {
            Row first = take();
            if (first.getString(4) != null) {
                malformed(first);
                return;
            }
            List<Row> group = new ArrayList<>();
            group.add(first);
            if (config.batching() == ScoringConfig.Batching.PROBLEM) {
                while (input.hasNext()) {
                    Row r = input.next();
                    if (r.getString(4) != null || !Objects.equals(r.getString(2), first.getString(2))) {
                        pending = r;
                        break;
                    }
                    group.add(r);
                }
            }
            score(group);
        }

        private void malformed(Row r) {
            if (config.onError() == ScoringConfig.OnError.FAIL) {
                throw new RejectedRowException(r.getString(4));
            }
            counters.malformed.add(1);
            ready.add(RowFactory.create(r.getLong(0), r.getString(1), MALFORMED, r.getString(4), r.getString(3), null, null));
        }

        private void score(List<Row> group) {
            List<Trajectory> ts = new ArrayList<>(group.size());
            for (Row r : group) {
                ts.add(TrajectoryJsonl.parse(r.getString(3), r.getLong(0))); // parsed once already: cannot fail now
            }
            open();
            List<TrajectoryScorer.Outcome> rsr = rsrScorer == null ? null : rsrScorer.scoreAll(ts);
            List<PrmScorer.Outcome> prm = prmScorer == null ? null : prmScorer.scoreAll(ts);
            for (int i = 0; i < group.size(); i++) {
                Row in = group.get(i);
                String id = ts.get(i).id();
                List<String> failures = new ArrayList<>();
                Row rsrRow = null;
                Row prmRow = null;
                if (rsr != null) {
                    switch (rsr.get(i)) {
                        case TrajectoryScorer.Scored s -> rsrRow = rsrRow(s.score(), s.truncatedFrom());
                        case TrajectoryScorer.Failed f -> failures.add((prm != null ? "rsr: " : "") + f.message());
                    }
                }
                if (prm != null) {
                    switch (prm.get(i)) {
                        case PrmScorer.Scored s -> prmRow = prmRow(s.score(), s.truncatedFrom());
                        case PrmScorer.Failed f -> failures.add((rsr != null ? "prm: " : "") + f.message());
                    }
                }
                if (rsrRow != null) {
                    counters.rsrScored.add(1);
                    counters.tokens.add(rsrRow.getInt(3));
                }
                if (prmRow != null) {
                    counters.prmScored.add(1);
                    counters.tokens.add(prmRow.getInt(3));
                }
                if (truncated(rsrRow) || truncated(prmRow)) {
                    counters.truncated.add(1);
                }
                String reason = null;
                if (!failures.isEmpty()) {
                    reason = "trajectory \"" + id + "\" cannot be scored: " + String.join("; ", failures);
                    if (config.onError() == ScoringConfig.OnError.FAIL) {
                        throw new RejectedRowException(reason);
                    }
                    counters.unscorable.add(1);
                }
                ready.add(RowFactory.create(in.getLong(0), id, failures.isEmpty() ? OK : UNSCORABLE, reason, failures.isEmpty() ? null : in.getString(3),
                        rsrRow, prmRow));
            }
        }

        private void open() {
            if (rsrLease != null || policyLease != null) {
                return;
            }
            TaskContext task = TaskContext.get();
            int threads = task != null ? task.cpus() : Runtime.getRuntime().availableProcessors();
            int gpu = mainGpu(task);
            if (config.scoresRsr()) {
                rsrLease = EnginePool.lease(resolve(config.rsrModel()), config.modelOptions(gpu), config.engineOptions(threads));
                rsrScorer = new TrajectoryScorer(rsrLease.engine(), config.trajectoryOptions());
            }
            if (config.scoresPrm()) {
                policyLease = EnginePool.lease(resolve(config.prmPolicy()), config.modelOptions(gpu), config.engineOptions(threads));
                if (config.prmReference() != null) {
                    referenceLease = EnginePool.lease(resolve(config.prmReference()), config.modelOptions(gpu), config.engineOptions(threads));
                }
                prmScorer = new PrmScorer(policyLease.engine(), referenceLease == null ? null : referenceLease.engine(), config.prmOptions());
            }
        }

        void release() {
            for (EnginePool.Lease l : new EnginePool.Lease[] {rsrLease, policyLease, referenceLease}) {
                if (l != null) {
                    l.close();
                }
            }
        }
    }

    /** The GPU Spark assigned to the task (its first "gpu" address), when layers are offloaded. */
    private int mainGpu(TaskContext task) {
        if (config.gpuLayers() == 0 || task == null) {
            return 0;
        }
        Map<String, ResourceInformation> res = task.resourcesJMap();
        ResourceInformation gpu = res == null ? null : res.get("gpu");
        if (gpu == null || gpu.addresses().length == 0) {
            return 0;
        }
        try {
            return Integer.parseInt(gpu.addresses()[0].trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** A path as given when it exists here, else a file of that name shipped with {@code --files}. */
    static Path resolve(String model) {
        Path p = Path.of(model);
        if (Files.exists(p)) {
            return p;
        }
        try {
            Path shipped = Path.of(SparkFiles.get(p.getFileName().toString()));
            if (Files.exists(shipped)) {
                return shipped;
            }
        } catch (RuntimeException e) {
            // no SparkEnv (not in a Spark JVM): report the path as given
        }
        return p;
    }

    /** Whether a result row (RSR or PRM) was cut to the token limit: its last field, {@code truncated_from}, is set. */
    private static boolean truncated(Row result) {
        return result != null && !result.isNullAt(result.length() - 1);
    }

    static Row rsrRow(TrajectoryScore s) {
        return rsrRow(s, 0);
    }

    /** @param truncatedFrom the length before truncation, 0 when not truncated ({@code truncated_from} null) */
    static Row rsrRow(TrajectoryScore s, int truncatedFrom) {
        Row[] steps = null;
        if (!s.steps().isEmpty()) {
            steps = new Row[s.steps().size()];
            for (int i = 0; i < steps.length; i++) {
                StepStats st = s.steps().get(i);
                steps[i] = RowFactory.create(st.index(), st.tokenCount(), st.meanEntropy(), st.maxEntropy(), st.minLogprob(), st.meanClippedRank());
            }
        }
        return RowFactory.create(s.id(), s.problem(), s.teacher(), s.tokenCount(), s.meanSurprisal(), s.meanClippedRank(), s.rsr(), s.meanEntropy(),
                s.perplexity(), steps, truncatedFrom > 0 ? truncatedFrom : null);
    }

    static Row prmRow(PrmScore s) {
        return prmRow(s, 0);
    }

    /** @param truncatedFrom the length before truncation, 0 when not truncated ({@code truncated_from} null) */
    static Row prmRow(PrmScore s, int truncatedFrom) {
        List<Object> v = new ArrayList<>(List.of(s.id(), s.problem(), s.teacher(), s.tokenCount(), s.steps().size(), s.responseReward()));
        for (Aggregation.Over o : Aggregation.Over.values()) {
            for (Aggregation a : Aggregation.values()) {
                v.add(s.aggregate(a, o));
            }
        }
        v.add(s.beta());
        Row[] steps = new Row[s.steps().size()];
        for (int i = 0; i < steps.length; i++) {
            StepReward st = s.steps().get(i);
            steps[i] = RowFactory.create(st.index(), st.tokenCount(), st.reward(), st.value(), st.meanEntropy(), st.maxEntropy(), st.minLogprob(),
                    st.meanClippedRank());
        }
        v.add(steps);
        v.add(truncatedFrom > 0 ? truncatedFrom : null);
        return RowFactory.create(v.toArray());
    }
}
