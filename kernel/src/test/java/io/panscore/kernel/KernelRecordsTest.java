package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The kernel's plain records by hand: a sequence's scored range, prefix groups and value equality;
 * per-token sums and perplexity; the renormalised top-k entropy at an offset and with −inf entries.
 */
class KernelRecordsTest {

    @Test
    void sequences() {
        Sequence s = Sequence.of(4, 5, 6, 7);
        assertEquals(1, s.scoreBegin());
        assertEquals(4, s.scoreEnd());
        assertEquals(3, s.scoredCount());
        assertEquals(0, s.prefixGroup());
        assertEquals(0, s.prefixLength());
        assertEquals(new Sequence(new int[] {4, 5, 6, 7}, 2, 4), Sequence.from(new int[] {4, 5, 6, 7}, 2));
        assertEquals(2, Sequence.from(new int[] {4, 5, 6, 7}, 2).scoredCount());
        Sequence g = s.sharingPrefix(1, 2);
        assertEquals(1, g.prefixGroup());
        assertEquals(2, g.prefixLength());
        assertEquals(s.scoreBegin(), g.scoreBegin());
        assertThrows(IllegalArgumentException.class, () -> s.sharingPrefix(0, 2));
        assertThrows(IllegalArgumentException.class, () -> new Sequence(null, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sequence(new int[1], 0, 1, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sequence(new int[1], 0, 1, 0, -1));
        // equality by content: every field counts
        Sequence same = new Sequence(new int[] {4, 5, 6, 7}, 1, 4, 0, 0);
        assertEquals(s, same);
        assertEquals(s.hashCode(), same.hashCode());
        assertNotEquals(s, Sequence.of(4, 5, 6, 8));
        assertNotEquals(s, new Sequence(new int[] {4, 5, 6, 7}, 2, 4, 0, 0));
        assertNotEquals(s, new Sequence(new int[] {4, 5, 6, 7}, 1, 3, 0, 0));
        assertNotEquals(s, new Sequence(new int[] {4, 5, 6, 7}, 1, 4, 1, 0));
        assertNotEquals(s, new Sequence(new int[] {4, 5, 6, 7}, 1, 4, 0, 1));
        assertNotEquals(s, "Sequence");
        assertNotEquals(s.hashCode(), new Sequence(new int[] {4, 5, 6, 7}, 1, 4, 1, 0).hashCode());
        assertNotEquals(s.hashCode(), new Sequence(new int[] {4, 5, 6, 7}, 1, 4, 0, 1).hashCode());
        assertNotEquals(s.hashCode(), new Sequence(new int[] {4, 5, 6, 7}, 2, 4, 0, 0).hashCode());
        assertNotEquals(s.hashCode(), new Sequence(new int[] {4, 5, 6, 7}, 1, 3, 0, 0).hashCode());
    }

    @Test
    void tokenScoresSums() {
        TokenScores t = new TokenScores(1, new int[] {1, 2, 3}, new float[] {-1, -2, -3}, new float[3], new int[3], new int[3], new float[3], 0, null, null);
        assertEquals(3, t.size());
        assertEquals(2.0, t.surprisal(1));
        assertEquals(-6.0, t.totalLogprob());
        assertEquals(Math.exp(2), t.perplexity(), 1e-12);
    }

    @Test
    void renormalisedEntropyAtAnOffset() {
        float ln2 = (float) Math.log(2);
        // entries 1..3: p = 1/2, 1/4 and 0 renormalise to 2/3, 1/3, 0: H = ln 3 − (2/3) ln 2
        float[] lp = {-0.1f, -ln2, -2 * ln2, Float.NEGATIVE_INFINITY, -5f};
        assertEquals(Math.log(3) - 2.0 / 3 * Math.log(2), Glimpse.renormalisedEntropy(lp, 1, 3), 1e-6);
        assertTrue(Double.isNaN(Glimpse.renormalisedEntropy(lp, 0, 0)));
        assertEquals(Math.log(4), Glimpse.renormalisedEntropy(new float[] {-7, -7, -7, -7}, 0, 4), 1e-12, "equal entries: ln k");
        assertEquals(0, Glimpse.renormalisedEntropy(new float[] {-3}, 0, 1), 1e-12, "one entry: certain");
        // far below the maximum: no underflow to NaN (the maximum is subtracted first)
        assertEquals(Math.log(2), Glimpse.renormalisedEntropy(new float[] {-1000, -1000}, 0, 2), 1e-12);
    }
}
