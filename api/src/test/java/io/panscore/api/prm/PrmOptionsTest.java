package io.panscore.api.prm;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.panscore.api.trajectory.PromptTemplate;
import org.junit.jupiter.api.Test;

/** PrmOptions at the edges of its limits (README: beta 0.001, error threshold 0.5005, chunks of 64, 32768 tokens), and each with-method. */
class PrmOptionsTest {

    @Test
    void defaultsLimitsAndWithMethods() {
        PrmOptions d = PrmOptions.defaults();
        PromptTemplate model = d.template();
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, false, false, false, false, 0.5005, 32768), d);
        assertEquals(0.001, PrmOptions.DEFAULT_BETA);
        assertEquals(0.05, PrmOptions.PAPER_BETA);
        assertEquals(0.005, PrmOptions.PROCESSBENCH_BETA);
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, false, true, true, true, 0.5005, 32768), PrmOptions.implicitPrmParity());
        assertEquals(new PrmOptions(0.5, "\n\n", model, 64, false, false, false, false, 0.5005, 32768), d.withBeta(0.5));
        assertEquals(new PrmOptions(0.001, "\n", model, 64, false, false, false, false, 0.5005, 32768), d.withDelimiter("\n"));
        assertEquals(new PrmOptions(0.001, "\n\n", PromptTemplate.none(), 64, false, false, false, false, 0.5005, 32768),
                d.withTemplate(PromptTemplate.none()));
        assertEquals(new PrmOptions(0.001, "\n\n", model, 2, false, false, false, false, 0.5005, 32768), d.withChunkSize(2));
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, true, false, false, false, 0.5005, 32768), d.withKeepLogRatios(true));
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, false, true, false, false, 0.5005, 32768), d.withStepPrefix(true));
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, false, false, true, false, 0.5005, 32768), d.withStepMarkers(true));
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, false, false, false, true, 0.5005, 32768), d.withScoreEndOfTurn(true));
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, false, false, false, false, 0.25, 32768), d.withErrorThreshold(0.25));
        assertEquals(new PrmOptions(0.001, "\n\n", model, 64, false, false, false, false, 0.5005, 7), d.withMaxTokens(7));
        assertDoesNotThrow(() -> d.withBeta(Double.MIN_VALUE).withChunkSize(1).withMaxTokens(2).withErrorThreshold(1e-9).withErrorThreshold(1 - 1e-9));
        for (double beta : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThrows(IllegalArgumentException.class, () -> d.withBeta(beta), "beta " + beta);
        }
        for (double t : new double[] {0, 1, Double.NaN}) {
            assertThrows(IllegalArgumentException.class, () -> d.withErrorThreshold(t), "error threshold " + t);
        }
        assertThrows(IllegalArgumentException.class, () -> d.withDelimiter(""));
        assertThrows(IllegalArgumentException.class, () -> d.withDelimiter(null));
        assertThrows(IllegalArgumentException.class, () -> d.withChunkSize(0));
        assertThrows(IllegalArgumentException.class, () -> d.withMaxTokens(1));
        assertThrows(IllegalArgumentException.class, () -> d.withTemplate(null));
    }
}
