package io.panscore.bench;

import io.panscore.kernel.TokenScores;

/** Setup-time checks that two ways of scoring did the same work. */
final class Checks {

    private Checks() {}

    /**
     * Insists that two results for the same positions agree: logprob, entropy and the argmax's
     * logprob within {@code tolerance} (relative, at least absolute), rank within
     * {@code 1 + tolerance x rank}; the argmax ids are not compared (on a near tie either may win),
     * their logprobs are.
     * Packing and prompt sharing change the order of float sums inside llama.cpp, so logits differ
     * in the last bits; with 151,936 logits per row, many lie that close to one another, so a rank
     * in the tens of thousands may move by a few.
     */
    static void sameScores(String what, TokenScores a, TokenScores b, double tolerance) {
        if (a.size() != b.size() || a.scoreBegin() != b.scoreBegin()) {
            throw new IllegalStateException(what + ": " + a.size() + " vs " + b.size() + " positions");
        }
        for (int i = 0; i < a.size(); i++) {
            boolean ok = a.target()[i] == b.target()[i]
                    && close(a.argmaxLogprob()[i], b.argmaxLogprob()[i], tolerance)
                    && Math.abs(a.rank()[i] - b.rank()[i]) <= 1 + tolerance * Math.max(a.rank()[i], b.rank()[i])
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
