package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The RSR pipeline's pure parts on hand-worked cases: per-teacher dataset RSR (Σ r̄ / Σ s̄) and its
 * ranking, the best trajectory per problem (ties by id), the RSR filters, and CSV quoting.
 */
class TrajectoryPartsTest {

    static TrajectoryScore ts(String id, String problem, String teacher, double surprisal, double rank) {
        return new TrajectoryScore(id, problem, teacher, 10, surprisal, rank, rank / surprisal, 0, Math.exp(surprisal), null, List.of());
    }

    static final List<TrajectoryScore> SCORES = List.of(ts("a", "p1", "T1", 2, 4), ts("b", "p1", "T2", 1, 1), ts("c", "p2", "T1", 4, 2),
            ts("d", "p2", "T2", 1, 3), ts("e", "p2", "T2", 1, 0.5));

    static List<String> ids(List<TrajectoryScore> l) {
        return l.stream().map(TrajectoryScore::id).toList();
    }

    @Test
    void teachersAndBestPerProblem() {
        // T1: (4 + 2) / (2 + 4) = 1; T2: (1 + 3 + 0.5) / (1 + 1 + 1) = 1.5
        assertEquals(List.of(new DatasetSummary.TeacherRsr(1, "T1", 2, 1.0), new DatasetSummary.TeacherRsr(2, "T2", 3, 1.5)),
                DatasetSummary.teachers(SCORES));
        // equal RSR: ranked by name
        assertEquals(List.of("A", "B"), DatasetSummary.teachers(List.of(ts("x", "p", "B", 1, 1), ts("y", "p", "A", 2, 2))).stream()
                .map(DatasetSummary.TeacherRsr::teacher).toList());
        assertEquals(1e12, Rsr.datasetRsr(List.of(ts("z", "p", "T", 0, 1))), 1, "zero surprisal: divided by EPS");
        // p1: b (RSR 1) of 2; p2: c and e tie at 0.5, c by id, of 3
        assertEquals(List.of(new DatasetSummary.Best("p1", "b", "T2", 1.0, 2), new DatasetSummary.Best("p2", "c", "T1", 0.5, 3)),
                DatasetSummary.bestPerProblem(SCORES));
    }

    @Test
    void filters() {
        TrajectoryFilter f = TrajectoryFilter.rsrAtMost(1.0);
        assertEquals(List.of("b", "c", "e"), ids(f.apply(SCORES)), "RSR 1.0 itself is kept");
        assertTrue(f.keeps(SCORES.get(1)));
        assertFalse(f.keeps(SCORES.get(0)));
        // sorted by RSR then id: c 0.5, e 0.5, b 1, a 2, d 3
        assertEquals(List.of("c", "e"), ids(TrajectoryFilter.bestFraction(SCORES, 0.4)));
        assertEquals(List.of("c", "e", "b"), ids(TrajectoryFilter.bestFraction(SCORES, 0.41)), "ceil(2.05) = 3");
        assertEquals(List.of("c"), ids(TrajectoryFilter.bestFraction(SCORES, 0.01)), "at least one");
        assertEquals(List.of("c", "e", "b", "a", "d"), ids(TrajectoryFilter.bestFraction(SCORES, 1)));
        assertEquals(List.of(), TrajectoryFilter.bestFraction(List.of(), 0.5));
        for (double bad : new double[] {0, -0.5, 1 + 1e-9, Double.NaN}) {
            assertThrows(IllegalArgumentException.class, () -> TrajectoryFilter.bestFraction(SCORES, bad), "fraction " + bad);
        }
    }

    @Test
    void csvQuotingRoundTrips() {
        assertEquals("plain text", Csv.quote("plain text"));
        assertEquals("\"a,b\"", Csv.quote("a,b"));
        assertEquals("\"say \"\"hi\"\"\"", Csv.quote("say \"hi\""));
        assertEquals("\"l1\nl2\"", Csv.quote("l1\nl2"));
        assertEquals("\"l1\rl2\"", Csv.quote("l1\rl2"));
        assertEquals(List.of("x", "a,b", "q\"", "l1\nl2", ""), Csv.parse("x,\"a,b\",\"q\"\"\",\"l1\nl2\","));
        assertEquals(List.of(""), Csv.parse(""));
        for (String s : new String[] {"a,b", "say \"hi\"", "l1\r\nl2", "ok"}) {
            assertEquals(List.of(s, "z"), Csv.parse(Csv.quote(s) + ",z"), s);
        }
    }
}
