package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Engine's refusals that come before any decode (outputs that would not fit in one Java array,
 * counted by hand), the plain forward pass's checks, and a closed engine.
 */
class EngineEdgesTest {

    @Test
    void outputsTooLargeForOneJavaArrayAreRefusedBeforeAnyDecode() {
        try (Engine e = TestModels.tiny().newEngine(EngineOptions.defaults().withContextSize(64).withThreads(2))) {
            // 1,099,999 scored rows x 2,051 logits = 2,256,097,949 floats > 2^31 - 9
            InvalidInputException rows = assertThrows(InvalidInputException.class, () -> e.logits(List.of(Sequence.of(new int[1_100_000]))));
            assertEquals("1099999 rows of 2051 logits do not fit in one Java array", rows.getMessage());
            // 19,999 positions x top-200,000 = 3,999,800,000 > 2^31 - 9
            InvalidInputException top = assertThrows(InvalidInputException.class,
                    () -> e.score(List.of(Sequence.of(new int[20_000])), ScoreOptions.defaults().withTopK(200_000)));
            assertEquals("19999 positions x top-200000 do not fit in one Java array; score fewer positions per call", top.getMessage());
            // the engine is untouched and still scores
            int[] ok = TestModels.tiny().tokenize("A short sentence.", true, false);
            TokenScores s = e.score(Sequence.of(ok));
            assertEquals(ok.length - 1, s.size());
            TokenScores k = e.score(List.of(Sequence.of(ok)), ScoreOptions.defaults().withTopK(3)).getFirst();
            assertArrayEquals(s.logprob(), k.logprob());
            assertEquals(3 * (ok.length - 1), k.topIds().length);
        }
    }

    @Test
    void theForwardPassChecksItsInputAndAClosedEngineRefusesEverything() {
        Engine e = TestModels.tiny().newEngine(EngineOptions.defaults().withContextSize(64).withThreads(2));
        int[] ok = TestModels.tiny().tokenize("A short sentence.", true, false);
        assertDoesNotThrow(() -> e.forward(List.of(Sequence.of(ok))));
        InvalidInputException none = assertThrows(InvalidInputException.class, () -> e.forward(List.of()));
        assertEquals("no sequences to score", none.getMessage());
        assertThrows(InvalidInputException.class, () -> e.forward(null));
        TokenOutOfRangeException bad = assertThrows(TokenOutOfRangeException.class, () -> e.forward(List.of(Sequence.of(ok[0], 2051))));
        assertTrue(bad.getMessage().startsWith("forward pass: "), bad.getMessage());
        assertThrows(TokenOutOfRangeException.class, () -> e.logits(List.of(Sequence.of(ok[0], -1))));
        assertFalse(e.isClosed());
        e.close();
        assertTrue(e.isClosed());
        e.close();
        assertThrows(ClosedException.class, () -> e.forward(List.of(Sequence.of(ok))));
        assertThrows(ClosedException.class, () -> e.logits(List.of(Sequence.of(ok))));
        assertThrows(ClosedException.class, () -> e.score(Sequence.of(ok)));
    }
}
