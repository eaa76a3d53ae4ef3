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

    /**
     * The names of llama.cpp's built-in chat templates ("chatml", "llama3", ...): what
     * {@link Model#renderChat} accepts as a template name.
     */
    public static java.util.List<String> builtinChatTemplates() {
        NativeCalls.ensureLoaded();
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment len = arena.allocate(java.lang.foreign.ValueLayout.JAVA_INT);
            int status = io.panscore.bindings.panscore_h.ps_chat_builtin_templates(java.lang.foreign.MemorySegment.NULL, 0, len);
            if (status != io.panscore.bindings.panscore_h.PS_OK() && status != io.panscore.bindings.panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
                NativeCalls.check(status, "listing chat templates");
            }
            int n = len.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            java.lang.foreign.MemorySegment buf = arena.allocate(Math.max(1, n));
            NativeCalls.check(io.panscore.bindings.panscore_h.ps_chat_builtin_templates(buf, n, len), "listing chat templates");
            String all = new String(buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.UTF_8);
            return all.isEmpty() ? java.util.List.of() : java.util.List.of(all.split(","));
        }
    }
}
