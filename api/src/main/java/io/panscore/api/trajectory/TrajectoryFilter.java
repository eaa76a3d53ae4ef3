package io.panscore.api.trajectory;

import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;

/**
 * Picks distillation data by RSR (lower is better): the best fraction of a scored set, or those
 * under a threshold. Stateless and thread-safe.
 */
public final class TrajectoryFilter {

    private final Predicate<TrajectoryScore> keep;

    private TrajectoryFilter(Predicate<TrajectoryScore> keep) {
        this.keep = keep;
    }

    /** Keeps trajectories whose RSR is at most {@code maxRsr}. */
    public static TrajectoryFilter rsrAtMost(double maxRsr) {
        return new TrajectoryFilter(s -> s.rsr() <= maxRsr);
    }

    /** Whether one trajectory passes a threshold filter. */
    public boolean keeps(TrajectoryScore score) {
        return keep.test(score);
    }

    public List<TrajectoryScore> apply(List<TrajectoryScore> scores) {
        return scores.stream().filter(keep).toList();
    }

    /**
     * The best {@code fraction} (0 &lt; fraction &lt;= 1) of the set by RSR, at least one when the set
     * is not empty; ties break by id. Needs the whole set, so it is not a streaming filter.
     */
    public static List<TrajectoryScore> bestFraction(List<TrajectoryScore> scores, double fraction) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("fraction must be in (0, 1], got " + fraction);
        }
        int n = scores.isEmpty() ? 0 : Math.max(1, (int) Math.ceil(scores.size() * fraction));
        return scores.stream().sorted(Comparator.comparingDouble(TrajectoryScore::rsr).thenComparing(TrajectoryScore::id)).limit(n).toList();
    }
}
