package io.panscore.kernel;

import io.panscore.bindings.NativeLibrary;
import io.panscore.bindings.panscore_h;

/**
 * The one place where native status codes become typed exceptions, and where the library is
 * opened and its ABI version checked before any binding is touched.
 */
final class NativeCalls {

    private NativeCalls() {}

    private static final class Loaded {
        static final String FAILURE = open();

        private static String open() {
            try {
                NativeLibrary.load();
            } catch (UnsatisfiedLinkError e) {
                return e.getMessage();
            }
            int abi = panscore_h.ps_abi_version();
            if (abi != panscore_h.PS_ABI_VERSION()) {
                return "libpanscore at " + NativeLibrary.path() + " has ABI version " + abi + " but these bindings expect "
                        + panscore_h.PS_ABI_VERSION() + ": rebuild, or point -D" + NativeLibrary.LIB_PATH_PROPERTY
                        + " at a matching library";
            }
            return null;
        }
    }

    /** Opens the library once; throws {@link BackendUnavailableException} with the loader's report otherwise. */
    static void ensureLoaded() {
        if (Loaded.FAILURE != null) {
            throw new BackendUnavailableException(0, Loaded.FAILURE);
        }
    }

    /** The calling thread's last native error message. */
    static String lastError() {
        return panscore_h.ps_last_error().getString(0);
    }

    /** Throws the exception for {@code status} (with the native message) unless it is PS_OK. */
    static void check(int status, String what) {
        if (status != panscore_h.PS_OK()) {
            throw exceptionFor(status, what + ": " + lastError());
        }
    }

    static PanscoreException exceptionFor(int status, String message) {
        return switch (status) {
            case 2, 3 -> new ModelLoadException(status, message);           // FILE_NOT_FOUND, MODEL_FORMAT
            case 4 -> new TokenOutOfRangeException(status, message);
            case 5 -> new ContextOverflowException(status, message);
            case 1, 6, 10 -> new InvalidInputException(status, message);    // INVALID_ARGUMENT, EMPTY_INPUT, BUFFER_TOO_SMALL
            case 7 -> new NanLogitsException(status, message);
            case 8 -> new DecodeException(status, message);
            case 9 -> new NativeMemoryException(status, message);
            case 11 -> new BackendUnavailableException(status, message);
            case 13 -> new CapacityException(status, message);
            default -> new PanscoreException(status, message);              // INTERNAL and unknown codes
        };
    }
}
