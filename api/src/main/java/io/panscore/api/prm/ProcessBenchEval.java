package io.panscore.api.prm;

import java.util.List;
import java.util.Map;

/**
 * ProcessBench-style evaluation of first-error predictions (arXiv 2412.06559): each labelled
 * sample has the index of its first erroneous step, or -1 when every step is correct. A prediction
 * is right when it names exactly that step (or -1 for a correct sample). Reported: the accuracy on
 * erroneous samples, the accuracy on correct samples, and F1, their harmonic mean.
 *
 * @param erroneous        samples labelled with an error
 * @param correct          samples labelled correct (-1)
 * @param erroneousHits    erroneous samples whose first error was found exactly
 * @param correctHits      correct samples predicted correct
 * @param missing          labelled samples without a score (not counted above)
 */
public record ProcessBenchEval(int erroneous, int correct, int erroneousHits, int correctHits, int missing) {

    /** Accuracy on erroneous samples (NaN without any). */
    public double errorAccuracy() {
        return erroneous == 0 ? Double.NaN : (double) erroneousHits / erroneous;
    }

    /** Accuracy on correct samples (NaN without any). */
    public double correctAccuracy() {
        return correct == 0 ? Double.NaN : (double) correctHits / correct;
    }

    /** The harmonic mean of the two accuracies (0 when both are 0). */
    public double f1() {
        double a = errorAccuracy();
        double b = correctAccuracy();
        return a + b == 0 ? 0 : 2 * a * b / (a + b);
    }

    /**
     * Evaluates scored responses against labels (id to first-error step index, -1 = correct),
     * predicting the first error with {@link PrmScore#firstError(double)}.
     */
    public static ProcessBenchEval of(List<PrmScore> scores, Map<String, Integer> labels, double threshold) {
        Map<String, PrmScore> byId = new java.util.HashMap<>();
        for (PrmScore s : scores) {
            byId.put(s.id(), s);
        }
        int erroneous = 0;
        int correct = 0;
        int eh = 0;
        int ch = 0;
        int missing = 0;
        for (Map.Entry<String, Integer> e : labels.entrySet()) {
            PrmScore s = byId.get(e.getKey());
            if (s == null) {
                missing++;
                continue;
            }
            int predicted = s.firstError(threshold);
            if (e.getValue() < 0) {
                correct++;
                ch += predicted < 0 ? 1 : 0;
            } else {
                erroneous++;
                eh += predicted == e.getValue() ? 1 : 0;
            }
        }
        return new ProcessBenchEval(erroneous, correct, eh, ch, missing);
    }

    /** The threshold with the best F1 on a labelled set, and that evaluation. */
    public record Best(double threshold, ProcessBenchEval eval) {}

    /**
     * Chooses the first-error threshold as the released ImplicitPRM ProcessBench run does before it
     * scores other datasets (eval/process_eval.sh: {@code --num_thresholds 10000} on GSM8K): every
     * threshold {@code i / n} for i = 0..n is tried and the one with the highest F1 is kept (the
     * lowest such threshold on ties). The grid is our reading of that option; the script itself
     * was not available to check.
     */
    public static Best bestThreshold(List<PrmScore> scores, Map<String, Integer> labels, int n) {
        if (n < 1) {
            throw new IllegalArgumentException("the number of thresholds must be positive, got " + n);
        }
        Best best = null;
        for (int i = 0; i <= n; i++) {
            double t = (double) i / n;
            ProcessBenchEval ev = of(scores, labels, t);
            if (best == null || ev.f1() > best.eval().f1()) {
                best = new Best(t, ev);
            }
        }
        return best;
    }
}
