package io.panscore.api.prm;

import io.panscore.api.trajectory.Steps;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Best-of-N per problem and step-level filtering over PRM scores. Stateless and thread-safe.
 * Ties break by id, so selections are stable.
 */
public final class Selection {

    private Selection() {}

    /** The best response of each problem under an aggregation of its steps (higher is better). */
    public static List<PrmScore> bestOfN(List<PrmScore> scores, Aggregation agg, Aggregation.Over over) {
        Map<String, List<PrmScore>> byProblem = new LinkedHashMap<>();
        for (PrmScore s : scores) {
            byProblem.computeIfAbsent(s.problem(), k -> new ArrayList<>()).add(s);
        }
        Comparator<PrmScore> better = Comparator.<PrmScore>comparingDouble(s -> s.aggregate(agg, over)).reversed()
                .thenComparing(PrmScore::id);
        List<PrmScore> out = new ArrayList<>();
        byProblem.values().forEach(list -> out.add(list.stream().min(better).orElseThrow()));
        return out;
    }

    /** What a step filter does with a response that has a step under the threshold. */
    public enum FilterMode { DROP, TRUNCATE }

    /** A response kept by a step filter: whole, or cut before its first bad step. */
    public record Kept(PrmScore score, int keptSteps, boolean truncated) {}

    /**
     * Applies a step filter with threshold τ on r^t: responses whose steps are all at or above τ are
     * kept whole; the others are dropped (DROP), or kept up to their first bad step (TRUNCATE; a
     * response whose first step is bad is dropped, nothing being left).
     */
    public static Optional<Kept> filter(PrmScore score, double threshold, FilterMode mode) {
        int bad = score.firstStepBelow(threshold);
        if (bad < 0) {
            return Optional.of(new Kept(score, score.steps().size(), false));
        }
        if (mode == FilterMode.DROP || bad == 0) {
            return Optional.empty();
        }
        return Optional.of(new Kept(score, bad, true));
    }

    /** The text of the first {@code steps} steps of a response split on {@code delimiter}. */
    public static String truncate(String response, String delimiter, int steps) {
        int[] ends = Steps.stepEnds(response, delimiter);
        byte[] bytes = response.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int end = steps <= 0 ? 0 : ends[Math.min(steps, ends.length) - 1];
        return new String(bytes, 0, end, java.nio.charset.StandardCharsets.UTF_8);
    }
}
