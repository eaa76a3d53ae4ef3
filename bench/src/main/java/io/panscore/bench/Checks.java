package io.panscore.bench;

import io.panscore.kernel.TokenScores;

/** Setup-time checks that two ways of scoring did the same work. */
final class Checks {

    private Checks() {}

    /**
     * Insists that two results for the same positions agree: argmax equal, rank within 1, logprob
     * and entropy within {@code tolerance} (relative, at least absolute). Packing and prompt sharing
     * change the order of float sums inside llama.cpp, so the numbers may differ in the last bits.
     */
    static void sameScores(String what, TokenScores a, TokenScores b, double tolerance) {
        if (a.size() != b.size() || a.scoreBegin() != b.scoreBegin()) {
            throw new IllegalStateException(what + ": " + a.size() + " vs " + b.size() + " positions");
        }
        for (int i = 0; i < a.size(); i++) {
            boolean ok = a.target()[i] == b.target()[i]
                    && a.argmax()[i] == b.argmax()[i]
                    && Math.abs(a.rank()[i] - b.rank()[i]) <= 1
                    && close(a.logprob()[i], b.logprob()[i], tolerance)
                    && close(a.entropy()[i], b.entropy()[i], tolerance);
            if (!ok) {
                throw new IllegalStateException(String.format("%s disagree at position %d: logprob %g vs %g, entropy %g vs %g, "
                                + "rank %d vs %d, argmax %d vs %d", what, a.scoreBegin() + i, a.logprob()[i], b.logprob()[i],
                        a.entropy()[i], b.entropy()[i], a.rank()[i], b.rank()[i], a.argmax()[i], b.argmax()[i]));
            }
        }
    }

    private static boolean close(double x, double y, double tolerance) {
        return Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(y));
    }
}
