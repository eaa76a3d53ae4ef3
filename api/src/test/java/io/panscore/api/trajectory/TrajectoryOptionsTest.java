package io.panscore.api.trajectory;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** TrajectoryOptions at the edges of its limits (README, SPEC: r_max 100, 32768 tokens, chunks of 64), and each with-method. */
class TrajectoryOptionsTest {

    @Test
    void defaultsLimitsAndWithMethods() {
        TrajectoryOptions d = TrajectoryOptions.defaults();
        PromptTemplate model = d.template();
        assertEquals(new TrajectoryOptions(100, model, null, false, 64, 32768), d);
        assertEquals(32768, TrajectoryOptions.DEFAULT_MAX_TOKENS);
        assertEquals(new TrajectoryOptions(5, model, null, false, 64, 32768), d.withRMax(5));
        assertEquals(new TrajectoryOptions(100, PromptTemplate.none(), null, false, 64, 32768), d.withTemplate(PromptTemplate.none()));
        assertEquals(new TrajectoryOptions(100, model, "\n", false, 64, 32768), d.withStepDelimiter("\n"));
        assertEquals(new TrajectoryOptions(100, model, null, true, 64, 32768), d.withPerToken(true));
        assertEquals(new TrajectoryOptions(100, model, null, false, 3, 32768), d.withChunkSize(3));
        assertEquals(new TrajectoryOptions(100, model, null, false, 64, 9), d.withMaxTokens(9));
        assertNull(d.withStepDelimiter("").stepDelimiter(), "an empty delimiter means none");
        assertDoesNotThrow(() -> d.withRMax(1).withChunkSize(1).withMaxTokens(2));
        assertThrows(IllegalArgumentException.class, () -> d.withRMax(0));
        assertThrows(IllegalArgumentException.class, () -> d.withChunkSize(0));
        assertThrows(IllegalArgumentException.class, () -> d.withMaxTokens(1));
        assertThrows(IllegalArgumentException.class, () -> d.withTemplate(null));
    }
}
