package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The router's pure parts on hand-worked cases: the calibrated τ (the (1 − f) quantile of the
 * sample entropies, ties counted at or above τ), nearest-rank quantiles, a decision's route, the
 * mode labels, and a trace's large fractions by steps and by tokens.
 */
class RouterPartsTest {

    @Test
    void calibrationPicksTheQuantileAndCountsTies() {
        double[] e = {3, 1, 2, 5, 4};
        Calibration c = Calibration.of(e, 0.4); // 2 of 5 large: tau = the 4th smallest
        assertEquals(4, c.threshold());
        assertEquals(0.4, c.largeFraction());
        assertEquals(0.4, c.targetLargeFraction());
        assertArrayEquals(new double[] {1, 2, 3, 4, 5}, c.entropies());
        assertArrayEquals(new double[] {3, 1, 2, 5, 4}, e, "the caller's array is not sorted in place");
        assertEquals(3, c.mean());
        Calibration none = Calibration.of(e, 0);
        assertEquals(Math.nextUp(5.0), none.threshold(), "nothing at or above tau");
        assertEquals(0, none.largeFraction());
        Calibration all = Calibration.of(e, 1);
        assertEquals(1, all.threshold());
        assertEquals(1, all.largeFraction());
        assertEquals(3, Calibration.of(e, 0.5).threshold(), "round(2.5) = 3 large");
        assertEquals(0.6, Calibration.of(e, 0.5).largeFraction());
        // ties: asking for 2 of 5 above a run of equal entropies gives all of them
        double[] tied = {1, 2, 2, 2, 3};
        assertEquals(3, Calibration.of(tied, 0.2).threshold());
        assertEquals(0.2, Calibration.of(tied, 0.2).largeFraction());
        assertEquals(2, Calibration.of(tied, 0.4).threshold());
        assertEquals(0.8, Calibration.of(tied, 0.4).largeFraction());
        assertThrows(IllegalArgumentException.class, () -> Calibration.of(new double[0], 0.5));
        for (double f : new double[] {-1e-9, 1 + 1e-9, Double.NaN}) {
            assertThrows(IllegalArgumentException.class, () -> Calibration.of(e, f), "fraction " + f);
        }
        // nearest rank: index ceil(q n) - 1, clamped
        assertEquals(1, c.quantile(0));
        assertEquals(1, c.quantile(0.1));
        assertEquals(1, c.quantile(0.2));
        assertEquals(2, c.quantile(0.21));
        assertEquals(3, c.quantile(0.5));
        assertEquals(5, c.quantile(0.9));
        assertEquals(5, c.quantile(1));
        assertEquals(5, c.quantile(2));
    }

    @Test
    void decisionsModesAndTraces() {
        assertTrue(new Decision(Decision.Route.LARGE, 1, 1, 1, 1, EntropyMode.TOP_K, 0, "", 0).large());
        assertFalse(new Decision(Decision.Route.SMALL, 1, 1, 1, 2, EntropyMode.EXACT, 0, "", 0).large());
        assertEquals("exact", EntropyMode.EXACT.label());
        assertEquals("top-k", EntropyMode.TOP_K.label());

        RoutedTrace t = new RoutedTrace(List.of(new RoutedTrace.Step("small", 0.5, "a", 10, 1), new RoutedTrace.Step("large", 2.5, "b", 30, 1),
                new RoutedTrace.Step("large", 3.5, "c", 0, 1)), null, 0, "end_of_thinking", 5);
        assertEquals(2.0 / 3, t.largeStepFraction(), 1e-15);
        assertEquals(0.75, t.largeTokenFraction(), 1e-15);
        RoutedTrace empty = new RoutedTrace(List.of(), "x", 1, "max_total_tokens", 5);
        assertEquals(0, empty.largeStepFraction());
        assertEquals(0, empty.largeTokenFraction());
        RoutedTrace noTokens = new RoutedTrace(List.of(new RoutedTrace.Step("large", 1, "", 0, 1)), null, 0, "repeated_step", 1);
        assertEquals(1, noTokens.largeStepFraction());
        assertEquals(0, noTokens.largeTokenFraction());
    }
}
