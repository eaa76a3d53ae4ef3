package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.bindings.panscore_h;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Each native status code becomes its own exception type, carrying the code and the message (the
 * codes and their meaning as panscore.h lists them, written here by hand).
 */
class NativeCallsTest {

    @Test
    void everyStatusCodeHasItsExceptionType() {
        NativeCalls.ensureLoaded();
        Map<Integer, Class<? extends PanscoreException>> expected = Map.ofEntries(
                Map.entry(1, InvalidInputException.class),        // PS_ERR_INVALID_ARGUMENT
                Map.entry(2, ModelLoadException.class),           // PS_ERR_FILE_NOT_FOUND
                Map.entry(3, ModelLoadException.class),           // PS_ERR_MODEL_FORMAT
                Map.entry(4, TokenOutOfRangeException.class),     // PS_ERR_TOKEN_OUT_OF_RANGE
                Map.entry(5, ContextOverflowException.class),     // PS_ERR_CONTEXT_OVERFLOW
                Map.entry(6, InvalidInputException.class),        // PS_ERR_EMPTY_INPUT
                Map.entry(7, NanLogitsException.class),           // PS_ERR_NAN_LOGITS
                Map.entry(8, DecodeException.class),              // PS_ERR_DECODE_FAILED
                Map.entry(9, NativeMemoryException.class),        // PS_ERR_OUT_OF_MEMORY
                Map.entry(10, InvalidInputException.class),       // PS_ERR_BUFFER_TOO_SMALL
                Map.entry(11, BackendUnavailableException.class), // PS_ERR_BACKEND
                Map.entry(12, PanscoreException.class),           // PS_ERR_INTERNAL
                Map.entry(13, CapacityException.class),           // PS_ERR_CAPACITY
                Map.entry(99, PanscoreException.class));          // unknown
        expected.forEach((code, type) -> {
            PanscoreException e = NativeCalls.exceptionFor(code, "what happened " + code);
            assertEquals(type, e.getClass(), "status " + code);
            assertEquals(code, e.status());
            assertEquals("what happened " + code, e.getMessage());
        });
        assertEquals(13, panscore_h.PS_ERR_CAPACITY());
        assertEquals(1, panscore_h.PS_ERR_INVALID_ARGUMENT());
    }

    @Test
    void checkPassesOkAndNamesTheCallAndTheNativeReasonOtherwise() {
        NativeCalls.ensureLoaded();
        assertDoesNotThrow(() -> NativeCalls.check(panscore_h.PS_OK(), "nothing"));
        // a native call that fails: the engine parameters of a NULL engine
        int status = panscore_h.ps_engine_params_get(java.lang.foreign.MemorySegment.NULL, java.lang.foreign.MemorySegment.NULL);
        assertEquals(panscore_h.PS_ERR_INVALID_ARGUMENT(), status);
        String reason = NativeCalls.lastError();
        assertTrue(!reason.isEmpty(), "the native side says why");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> NativeCalls.check(status, "reading nothing"));
        assertEquals("reading nothing: " + reason, e.getMessage());
        assertEquals(1, e.status());
    }
}
