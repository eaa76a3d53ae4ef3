package io.panscore.api.prm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * ProcessBench's F1 and threshold search on hand-built scores: q^t values chosen so that
 * sigmoid(q^t) is exactly 0.5 (q = 0) or rounds to 1.0 in double (q = 40), and the expected
 * accuracies, F1 and thresholds worked out by hand.
 */
class ProcessBenchEvalTest {

    private static PrmScore steps(String id, double... q) {
        StepReward[] s = new StepReward[q.length];
        for (int i = 0; i < q.length; i++) {
            s[i] = new StepReward(i, 1, i == 0 ? q[0] : q[i] - q[i - 1], q[i], 0, 0, 0, 0);
        }
        return new PrmScore(id, "p", "", q.length, 0.005, null, List.of(s));
    }

    // "err": wrong from step 1 (its q there gives sigmoid 0.5); "ok": correct, sigmoid 1.0 everywhere
    private static final List<PrmScore> SCORES = List.of(steps("err", 40, 0, 0), steps("ok", 40, 40));
    private static final Map<String, Integer> LABELS = Map.of("err", 1, "ok", -1);

    @Test
    void f1IsTheHarmonicMeanOfEqualAccuracies() {
        // at 0.75 both samples are right: accuracies 1 and 1, F1 1 (a + b = 2, a - b = 0)
        ProcessBenchEval both = ProcessBenchEval.of(SCORES, LABELS, 0.75);
        assertEquals(1.0, both.errorAccuracy());
        assertEquals(1.0, both.correctAccuracy());
        assertEquals(1.0, both.f1());
        // at 0.5 nothing is flagged (0.5 is not below 0.5): error accuracy 0, correct 1, F1 0
        ProcessBenchEval none = ProcessBenchEval.of(SCORES, LABELS, 0.5);
        assertEquals(0.0, none.errorAccuracy());
        assertEquals(1.0, none.correctAccuracy());
        assertEquals(0.0, none.f1());
    }

    @Test
    void theSearchTriesTheLastGridPoint() {
        // grid {0, 1}: only t = 1.0 flags step 1 of "err" and leaves "ok" (sigmoid(40) == 1.0) alone
        ProcessBenchEval.Best best = ProcessBenchEval.bestThreshold(SCORES, LABELS, 1);
        assertEquals(1.0, best.threshold());
        assertEquals(1.0, best.eval().f1());
    }

    @Test
    void tiesKeepTheLowestThreshold() {
        // grid {0, .25, .5, .75, 1}: F1 is 1 at 0.75 and at 1.0; the lowest is kept
        ProcessBenchEval.Best best = ProcessBenchEval.bestThreshold(SCORES, LABELS, 4);
        assertEquals(0.75, best.threshold());
        assertEquals(1.0, best.eval().f1());
    }
}
