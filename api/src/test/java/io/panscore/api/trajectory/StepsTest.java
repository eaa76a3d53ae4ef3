package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** The step-to-token rule on tricky tokenisations: a token belongs to the step its last byte is in. */
class StepsTest {

    @Test
    void stepEndsIncludeTheDelimiter() {
        assertArrayEquals(new int[] {6, 10}, Steps.stepEnds("One.\n\nTwo.", "\n\n"));
        assertArrayEquals(new int[] {4}, Steps.stepEnds("Only", "\n\n"));
        assertArrayEquals(new int[] {8, 12}, Steps.stepEnds("One.\n\n\n\nTwo.", "\n\n"), "a run of delimiters is one boundary");
        assertArrayEquals(new int[] {6}, Steps.stepEnds("One.\n\n", "\n\n"), "a trailing delimiter starts no empty step");
        assertArrayEquals(new int[] {2, 5, 7, 8}, Steps.stepEnds("a\nbc\nd\ne", "\n"), "EurusPRM-style single newlines");
    }

    @Test
    void tokensFollowTheirLastByte() {
        int[] ends = Steps.stepEnds("One.\n\nTwo.", "\n\n"); // steps [0,6) and [6,10)
        // "One" "." "\n\n" "Two" "."  -> the delimiter token completes step 0
        assertArrayEquals(new int[] {0, 0, 0, 1, 1}, Steps.tokenSteps(new int[] {3, 1, 2, 3, 1}, ends));
        // "One" ".\n\n" "Two."        -> a token ending with the delimiter stays in step 0
        assertArrayEquals(new int[] {0, 0, 1}, Steps.tokenSteps(new int[] {3, 3, 4}, ends));
        // "One." "\n\nTwo" "."        -> a token straddling the boundary ends in step 1
        assertArrayEquals(new int[] {0, 1, 1}, Steps.tokenSteps(new int[] {4, 5, 1}, ends));
        // "One.\n" "\nT" "wo."        -> half a delimiter in each token
        assertArrayEquals(new int[] {0, 1, 1}, Steps.tokenSteps(new int[] {5, 2, 3}, ends));
        // multi-byte characters: "é" is 2 bytes split over two byte-tokens
        int[] e2 = Steps.stepEnds("é\n\nx", "\n\n"); // [0,4) [4,5)
        assertArrayEquals(new int[] {0, 0, 0, 1}, Steps.tokenSteps(new int[] {1, 1, 2, 1}, e2));
    }

    @Test
    void zeroByteTokensJoinTheStepBeforeThem() {
        int[] ends = Steps.stepEnds("a\n\nb", "\n\n");
        assertArrayEquals(new int[] {0, 0, 0, 1}, Steps.tokenSteps(new int[] {1, 2, 0, 1}, ends));
    }
}
