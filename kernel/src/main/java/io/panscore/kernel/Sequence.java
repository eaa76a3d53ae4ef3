package io.panscore.kernel;

import java.util.Arrays;

/**
 * Token ids to score and the positions to score in them. Position t (1 &lt;= t &lt; length) is
 * scored by the distribution that predicts {@code tokens[t]} from {@code tokens[0..t-1]}; the
 * positions {@code [scoreBegin, scoreEnd)} are scored. Checked natively before anything is decoded
 * (range, token ids, context length), so a bad sequence fails the call without side effects.
 *
 *
 * <p>Shared prompts: sequences of one call with the same {@code prefixGroup > 0} start with the
 * same {@code prefixLength} tokens; the engine decodes those once and shares their KV cache
 * entries among the members (the statistics do not change). See {@link #sharingPrefix}.
 *
 * @param tokens       the token ids (not copied: do not modify while a call is running)
 * @param scoreBegin   first scored position, at least 1
 * @param scoreEnd     one past the last scored position, at most {@code tokens.length}
 * @param prefixGroup  0 = shares nothing; otherwise the id of a group sharing a prefix
 * @param prefixLength tokens shared with the group (checked natively to be identical)
 */
public record Sequence(int[] tokens, int scoreBegin, int scoreEnd, int prefixGroup, int prefixLength) {

    public Sequence {
        if (tokens == null) {
            throw new IllegalArgumentException("tokens must not be null");
        }
        if (prefixGroup < 0 || prefixLength < 0) {
            throw new IllegalArgumentException("prefixGroup and prefixLength must be >= 0");
        }
    }

    public Sequence(int[] tokens, int scoreBegin, int scoreEnd) {
        this(tokens, scoreBegin, scoreEnd, 0, 0);
    }

    /** This sequence, declared to share its first {@code length} tokens with the other members of {@code group} (> 0). */
    public Sequence sharingPrefix(int group, int length) {
        if (group <= 0) {
            throw new IllegalArgumentException("prefix groups are numbered from 1, got " + group);
        }
        return new Sequence(tokens, scoreBegin, scoreEnd, group, length);
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
        return o instanceof Sequence s && s.scoreBegin == scoreBegin && s.scoreEnd == scoreEnd && s.prefixGroup == prefixGroup
                && s.prefixLength == prefixLength && Arrays.equals(s.tokens, tokens);
    }

    @Override
    public int hashCode() {
        return ((31 * (31 * Arrays.hashCode(tokens) + scoreBegin) + scoreEnd) * 31 + prefixGroup) * 31 + prefixLength;
    }

    @Override
    public String toString() {
        return "Sequence[" + tokens.length + " tokens, scored [" + scoreBegin + ", " + scoreEnd + ")]";
    }
}
