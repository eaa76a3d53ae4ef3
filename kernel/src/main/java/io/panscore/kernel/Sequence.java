package io.panscore.kernel;

import java.util.Arrays;

/**
 * Token ids to score and the positions to score in them. Position t (1 &lt;= t &lt; length) is
 * scored by the distribution that predicts {@code tokens[t]} from {@code tokens[0..t-1]}; the
 * positions {@code [scoreBegin, scoreEnd)} are scored. Checked natively before anything is decoded
 * (range, token ids, context length), so a bad sequence fails the call without side effects.
 *
 * @param tokens     the token ids (not copied: do not modify while a call is running)
 * @param scoreBegin first scored position, at least 1
 * @param scoreEnd   one past the last scored position, at most {@code tokens.length}
 */
public record Sequence(int[] tokens, int scoreBegin, int scoreEnd) {

    public Sequence {
        if (tokens == null) {
            throw new IllegalArgumentException("tokens must not be null");
        }
    }

    /** Every position after the first: [1, length). */
    public static Sequence of(int... tokens) {
        return new Sequence(tokens, 1, tokens.length);
    }

    /** Positions from {@code begin} to the end, e.g. the response after a prompt of {@code begin} tokens. */
    public static Sequence from(int[] tokens, int begin) {
        return new Sequence(tokens, begin, tokens.length);
    }

    /** Number of scored positions (0 or less for an empty range, which scoring rejects). */
    public int scoredCount() {
        return scoreEnd - scoreBegin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sequence s && s.scoreBegin == scoreBegin && s.scoreEnd == scoreEnd && Arrays.equals(s.tokens, tokens);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(tokens) + scoreBegin) + scoreEnd;
    }

    @Override
    public String toString() {
        return "Sequence[" + tokens.length + " tokens, scored [" + scoreBegin + ", " + scoreEnd + ")]";
    }
}
