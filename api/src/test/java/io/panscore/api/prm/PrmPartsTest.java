package io.panscore.api.prm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The PRM's pure parts on hand-worked cases: aggregations, the first-error rule (sigmoid(q) below
 * the threshold, strictly), ProcessBench accuracies and F1, the threshold grid, best-of-N with
 * ties by id, the step filter and the text truncation.
 */
class PrmPartsTest {

    /** A response whose steps have rewards r and values q. */
    static PrmScore score(String id, String problem, double[] r, double[] q) {
        List<StepReward> steps = new ArrayList<>();
        for (int i = 0; i < r.length; i++) {
            steps.add(new StepReward(i, 1, r[i], q[i], 0, 0, 0, 1));
        }
        return new PrmScore(id, problem, "t", r.length, 0.1, null, steps);
    }

    @Test
    void aggregationsAndRewards() {
        double[] v = {3, -1, 2};
        assertEquals(-1, Aggregation.MIN.apply(v));
        assertEquals(4.0 / 3, Aggregation.MEAN.apply(v), 1e-15);
        assertEquals(4, Aggregation.SUM.apply(v));
        assertEquals(2, Aggregation.LAST.apply(v));
        for (Aggregation a : Aggregation.values()) {
            assertTrue(Double.isNaN(a.apply(new double[0])), a.name());
        }
        PrmScore s = score("a", "p", new double[] {0.5, -0.25}, new double[] {0.5, 0.25});
        assertEquals(0.25, s.responseReward());
        assertEquals(0, score("e", "p", new double[0], new double[0]).responseReward());
        assertEquals(-0.25, s.aggregate(Aggregation.MIN, Aggregation.Over.R));
        assertEquals(0.25, s.aggregate(Aggregation.MIN, Aggregation.Over.Q));
        assertEquals(0.25, s.aggregate(Aggregation.SUM, Aggregation.Over.R));
        assertEquals(0.75, s.aggregate(Aggregation.SUM, Aggregation.Over.Q));
        assertEquals(1, s.firstStepBelow(0));
        assertEquals(-1, s.firstStepBelow(-0.25), "strictly below");
        assertEquals(0, s.firstStepBelow(0.5 + 1e-12));
        // sigmoid(0) = 0.5: a step of value 0 is an error under 0.5005, not under 0.5
        PrmScore zero = score("z", "p", new double[] {1, 1}, new double[] {1, 0});
        assertEquals(1, zero.firstError(0.5005));
        assertEquals(-1, zero.firstError(0.5));
        assertEquals(0, zero.firstError(0.74)); // sigmoid(1) = 0.7311
        assertEquals(1, zero.firstError(0.73));
    }

    @Test
    void processBenchAccuraciesF1AndTheThresholdGrid() {
        // sigmoid(q): a = 0.881, 0.269, 0.047; b = 0.731, 0.622; c = 0.378
        List<PrmScore> scores = List.of(score("a", "p", new double[3], new double[] {2, -1, -3}), score("b", "p", new double[2], new double[] {1, 0.5}),
                score("c", "p", new double[1], new double[] {-0.5}));
        Map<String, Integer> labels = new LinkedHashMap<>();
        labels.put("a", 1);   // first error at step 1
        labels.put("b", -1);  // correct
        labels.put("c", -1);  // correct
        labels.put("d", 2);   // not scored
        ProcessBenchEval ev = ProcessBenchEval.of(scores, labels, 0.5);
        assertEquals(new ProcessBenchEval(1, 2, 1, 1, 1), ev); // a found at step 1, b correct, c wrongly flagged at step 0
        assertEquals(1.0, ev.errorAccuracy());
        assertEquals(0.5, ev.correctAccuracy());
        assertEquals(2.0 / 3, ev.f1(), 1e-15); // 2 * 1 * 0.5 / 1.5
        assertTrue(Double.isNaN(new ProcessBenchEval(0, 3, 0, 3, 0).errorAccuracy()));
        assertTrue(Double.isNaN(new ProcessBenchEval(3, 0, 3, 0, 0).correctAccuracy()));
        assertEquals(0, new ProcessBenchEval(2, 2, 0, 0, 0).f1(), "both accuracies 0");
        assertEquals(0.6, new ProcessBenchEval(4, 4, 3, 2, 0).f1(), 1e-15); // a = 0.75, b = 0.5: 2 * 0.375 / 1.25

        // thresholds 0, 0.25, 0.5, 0.75, 1: F1 0, 0, 2/3, 0, 0 (worked out from the sigmoids above)
        ProcessBenchEval.Best best = ProcessBenchEval.bestThreshold(scores, labels, 4);
        assertEquals(0.5, best.threshold());
        assertEquals(ev, best.eval());
        assertEquals(new ProcessBenchEval(1, 2, 1, 0, 1), ProcessBenchEval.of(scores, labels, 0.75));
        assertEquals(new ProcessBenchEval(1, 2, 0, 2, 1), ProcessBenchEval.of(scores, labels, 0.25));
        // every threshold ties (F1 0 throughout): the lowest is kept
        assertEquals(0.0, ProcessBenchEval.bestThreshold(scores, Map.of("b", 1), 4).threshold());
        assertThrows(IllegalArgumentException.class, () -> ProcessBenchEval.bestThreshold(scores, labels, 0));
    }

    @Test
    void bestOfNFilterAndTruncation() {
        PrmScore a = score("a", "p1", new double[] {0.5, -0.5}, new double[] {0.5, 0});
        PrmScore b = score("b", "p1", new double[] {-0.1, 0.2}, new double[] {-0.1, 0.1});
        PrmScore c = score("c", "p2", new double[] {1}, new double[] {1});
        PrmScore c2 = score("b2", "p2", new double[] {1}, new double[] {1});
        // MIN over r: a -0.5, b -0.1 -> b; LAST over q: a 0, b 0.1 -> b; SUM over r: a 0, b 0.1 -> b; MEAN over q: a 0.25, b 0 -> a
        assertEquals(List.of("b", "b2"), Selection.bestOfN(List.of(a, b, c, c2), Aggregation.MIN, Aggregation.Over.R).stream().map(PrmScore::id).toList(),
                "p2 ties: the smaller id");
        assertEquals("b", Selection.bestOfN(List.of(a, b), Aggregation.LAST, Aggregation.Over.Q).getFirst().id());
        assertEquals("a", Selection.bestOfN(List.of(a, b), Aggregation.MEAN, Aggregation.Over.Q).getFirst().id());

        assertEquals(Optional.of(new Selection.Kept(a, 2, false)), Selection.filter(a, -0.5, Selection.FilterMode.DROP), "at the threshold: kept");
        assertEquals(Optional.empty(), Selection.filter(a, 0, Selection.FilterMode.DROP));
        assertEquals(Optional.of(new Selection.Kept(a, 1, true)), Selection.filter(a, 0, Selection.FilterMode.TRUNCATE));
        assertEquals(Optional.empty(), Selection.filter(b, 0, Selection.FilterMode.TRUNCATE), "first step bad: nothing left");

        String text = "é1\n\nstep two\n\n\n\nthree"; // a run of two delimiters ends one step
        assertEquals("", Selection.truncate(text, "\n\n", 0));
        assertEquals("é1\n\n", Selection.truncate(text, "\n\n", 1));
        assertEquals("é1\n\nstep two\n\n\n\n", Selection.truncate(text, "\n\n", 2));
        assertEquals(text, Selection.truncate(text, "\n\n", 3));
        assertEquals(text, Selection.truncate(text, "\n\n", 9));
    }
}
