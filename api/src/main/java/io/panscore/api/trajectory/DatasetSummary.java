package io.panscore.api.trajectory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Dataset-level views of scored trajectories (SPEC §3): teachers ranked by dataset RSR, and for
 * each problem the trajectory with the lowest RSR. Ties break by id, so summaries are stable.
 */
public final class DatasetSummary {

    /** A teacher's dataset RSR over its trajectories; rank 1 is the most suitable teacher. */
    public record TeacherRsr(int rank, String teacher, int trajectories, double rsr) {}

    /** The chosen (minimum-RSR) trajectory of a problem among {@code candidates}. */
    public record Best(String problem, String id, String teacher, double rsr, int candidates) {}

    private DatasetSummary() {}

    public static List<TeacherRsr> teachers(List<TrajectoryScore> scores) {
        Map<String, List<TrajectoryScore>> by = new LinkedHashMap<>();
        for (TrajectoryScore s : scores) {
            by.computeIfAbsent(s.teacher(), k -> new ArrayList<>()).add(s);
        }
        List<TeacherRsr> rows = new ArrayList<>();
        by.forEach((teacher, list) -> rows.add(new TeacherRsr(0, teacher, list.size(), Rsr.datasetRsr(list))));
        rows.sort(Comparator.comparingDouble(TeacherRsr::rsr).thenComparing(TeacherRsr::teacher));
        List<TeacherRsr> ranked = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            TeacherRsr r = rows.get(i);
            ranked.add(new TeacherRsr(i + 1, r.teacher(), r.trajectories(), r.rsr()));
        }
        return ranked;
    }

    public static List<Best> bestPerProblem(List<TrajectoryScore> scores) {
        Comparator<TrajectoryScore> order = Comparator.comparingDouble(TrajectoryScore::rsr).thenComparing(TrajectoryScore::id);
        Map<String, List<TrajectoryScore>> by = new LinkedHashMap<>();
        for (TrajectoryScore s : scores) {
            by.computeIfAbsent(s.problem(), k -> new ArrayList<>()).add(s);
        }
        List<Best> out = new ArrayList<>();
        by.forEach((problem, list) -> {
            TrajectoryScore best = list.stream().min(order).orElseThrow();
            out.add(new Best(problem, best.id(), best.teacher(), best.rsr(), list.size()));
        });
        return out;
    }
}
