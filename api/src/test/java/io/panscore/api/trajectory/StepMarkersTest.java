package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * ProcessBench-style {@code Step N:} markers and explicit steps as byte offsets, counted by hand
 * (UTF-8: "é" and "—" are 2 and 3 bytes).
 */
class StepMarkersTest {

    @Test
    void eachMarkerStartsAStep() {
        // "Step 1: a " is 10 bytes, "Step 2: b" 9
        assertArrayEquals(new int[] {10, 19}, Steps.markerEnds("Step 1: a Step 2: b"));
        // text before the first marker belongs to step 1: "Intro " is 6 bytes
        assertArrayEquals(new int[] {6, 16, 25}, Steps.markerEnds("Intro Step 1: x Step 2: y"));
        // no marker: one step, the whole text
        assertArrayEquals(new int[] {5}, Steps.markerEnds("plain"));
        assertArrayEquals(new int[] {0}, Steps.markerEnds(""));
        // byte offsets, not characters: "é " is 3 bytes, "Step 12: —" 12
        assertArrayEquals(new int[] {3, 15}, Steps.markerEnds("é Step 12: —"));
        // "Step :" and "step 1:" are not markers
        assertArrayEquals(new int[] {14}, Steps.markerEnds("Step : step 1:"));
        // a marker at the very end starts an (empty-bodied) last step
        assertArrayEquals(new int[] {2, 9}, Steps.markerEnds("a Step 3:"));
    }

    @Test
    void explicitStepsEndWhereTheirBytesEnd() {
        assertArrayEquals(new int[] {2, 4, 5}, Steps.explicitEnds(List.of("ab", "é", "c")));
        assertArrayEquals(new int[] {3, 3, 7}, Steps.explicitEnds(List.of("—", "", "x\n\ny")));
        assertArrayEquals(new int[] {}, Steps.explicitEnds(List.of()));
    }

    @Test
    void tokensPastTheTextGoToTheLastStep() {
        // steps [0,2) [2,4); pieces of 1+1+2+3 bytes run past the text's 4 bytes
        assertArrayEquals(new int[] {0, 0, 1, 1}, Steps.tokenSteps(new int[] {1, 1, 2, 3}, new int[] {2, 4}));
        // a single step: everything is step 0
        assertArrayEquals(new int[] {0, 0}, Steps.tokenSteps(new int[] {5, 5}, new int[] {3}));
        // a delimiter that is null or empty splits nothing
        assertArrayEquals(new int[] {7}, Steps.stepEnds("a\n\nb\n\nc", null));
        assertArrayEquals(new int[] {7}, Steps.stepEnds("a\n\nb\n\nc", ""));
        // a delimiter longer than the text, and one at the very start
        assertArrayEquals(new int[] {1}, Steps.stepEnds("a", "\n\n\n"));
        assertArrayEquals(new int[] {2, 3}, Steps.stepEnds("\n\na", "\n\n"));
    }
}
