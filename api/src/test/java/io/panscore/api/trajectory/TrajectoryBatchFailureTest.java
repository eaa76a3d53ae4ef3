package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Issue #13 item 10: one trajectory that makes its window's scoring throw costs only itself. */
class TrajectoryBatchFailureTest {

    private static Trajectory t(String id) {
        return new Trajectory(id, "p", "t", "prompt", null, "response " + id);
    }

    /** A window scorer that throws whenever the window holds "bad" (as a native failure of the batch would). */
    private static List<String> score(List<Trajectory> window, long first) {
        if (window.stream().anyMatch(t -> t.id().startsWith("bad"))) {
            throw new IllegalStateException("decode failed for the batch");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < window.size(); i++) {
            out.add(window.get(i).id() + "@" + (first + i) + "/" + window.size());
        }
        return out;
    }

    @Test
    void aFailingWindowIsRescoredOneByOneAndEachFailureRecorded() {
        List<Trajectory> in = List.of(t("a"), t("b"), t("bad1"), t("c"), t("d"), t("e"), t("bad2"), t("f"));
        Iterator<String> it = TrajectoryBatch.windows(in.iterator(), 3, id -> false, TrajectoryBatchFailureTest::score, r -> r.split("[@!]")[0],
                (t, i, why) -> t.id() + "!" + i + " " + why);
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        assertEquals(List.of("a@0/1", "b@1/1", "bad1!2 decode failed for the batch", "c@3/3", "d@4/3", "e@5/3", "bad2!6 decode failed for the batch",
                "f@7/1"), out);
    }

    @Test
    void resumedRunsSkipWhatIsDoneAndWithoutAFactoryTheErrorStillPropagates() {
        List<Trajectory> in = List.of(t("a"), t("bad"), t("b"));
        List<String> out = new ArrayList<>();
        TrajectoryBatch.windows(in.iterator(), 3, id -> id.equals("a"), TrajectoryBatchFailureTest::score, r -> r.split("[@!]")[0],
                (t, i, why) -> t.id() + "!" + i).forEachRemaining(out::add);
        assertEquals(List.of("bad!1", "b@2/1"), out);
        assertThrows(IllegalStateException.class,
                () -> TrajectoryBatch.windows(in.iterator(), 3, id -> false, TrajectoryBatchFailureTest::score, r -> r.split("[@!]")[0]).hasNext());
    }
}
