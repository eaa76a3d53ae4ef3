package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the native library says about itself, against the build's own settings written here by
 * hand: the project version of CMakeLists.txt (0.1.0), the pinned llama.cpp commit (de3ff815ea7d,
 * docs and the cache key), the CPU backend, and llama.cpp's built-in chat template names.
 */
class RuntimeTest {

    @Test
    void versionCommitBackendsAndLibrary() {
        assertEquals("0.1.0", Runtime.version());
        assertTrue(Runtime.llamaCommit().startsWith("de3ff815ea7d"), Runtime.llamaCommit());
        assertTrue(List.of(Runtime.backends().split(",")).contains("cpu"), Runtime.backends());
        assertTrue(Files.isRegularFile(Runtime.libraryPath()), Runtime.libraryPath().toString());
        assertTrue(Runtime.libraryPath().getFileName().toString().contains("panscore"), Runtime.libraryPath().toString());
        assertDoesNotThrow(() -> Runtime.setLogLevel(Runtime.LogLevel.ERROR));
    }

    @Test
    void builtinChatTemplates() {
        List<String> names = Runtime.builtinChatTemplates();
        assertTrue(names.contains("chatml") && names.contains("llama3") && names.contains("mistral-v7"), names.toString());
        assertTrue(names.size() > 20, names.size() + " templates");
        for (String n : names) {
            assertEquals(n.strip(), n);
            assertTrue(!n.isEmpty() && !n.contains(","), n);
        }
    }
}
