package io.panscore.kernel;

import io.panscore.bindings.NativeLibrary;
import io.panscore.bindings.panscore_h;
import java.nio.file.Path;

/** Facts about the loaded native library, and llama.cpp's log level. Thread-safe. */
public final class Runtime {

    private Runtime() {}

    /** How much llama.cpp logs to stderr. */
    public enum LogLevel {
        NONE, ERROR, WARN, INFO
    }

    public static String version() {
        NativeCalls.ensureLoaded();
        return panscore_h.ps_version().getString(0);
    }

    public static String llamaCommit() {
        NativeCalls.ensureLoaded();
        return panscore_h.ps_llama_commit().getString(0);
    }

    /** Compiled-in backends, e.g. "cpu" or "cpu,cuda". */
    public static String backends() {
        NativeCalls.ensureLoaded();
        return panscore_h.ps_backends().getString(0);
    }

    public static Path libraryPath() {
        NativeCalls.ensureLoaded();
        return NativeLibrary.path();
    }

    /** llama.cpp is silent by default; raise this to see its loading and decoding logs. */
    public static void setLogLevel(LogLevel level) {
        NativeCalls.ensureLoaded();
        panscore_h.ps_log_set_level(level.ordinal());
    }
}
