package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The child-process first load: a file on which llama.cpp aborts kills the child, not this JVM.
 * (With the Java validation off, a duplicated token string reaches llama.cpp's GGML_ASSERT.)
 */
class LoadProbeTest {

    private static void with(String validate, String isolate, Runnable r) {
        String v = System.getProperty("panscore.gguf.validate");
        String i = System.getProperty("panscore.load.isolate");
        System.setProperty("panscore.gguf.validate", validate);
        System.setProperty("panscore.load.isolate", isolate);
        try {
            r.run();
        } finally {
            restore("panscore.gguf.validate", v);
            restore("panscore.load.isolate", i);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    @Test
    void aFileThatAbortsLlamaCppKillsOnlyTheChild(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("duplicate-token.gguf");
        new GgufMutants(Fixtures.tiny()).semantic("duplicate-token", bad);
        with("false", "true", () -> {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(bad));
            assertTrue(e.getMessage().contains("crashed while a child process first loaded") && e.getMessage().contains("exit status 134, signal 6)"),
                    e.getMessage());
        });
        with("true", "true", () -> {
            try (Model m = Model.load(Fixtures.tiny())) { // passes in the child, then loads here
                assertEquals(TestModels.tiny().info().vocabSize(), m.info().vocabSize());
            }
        });
    }

    @Test
    void aFileThatFailsCleanlyInTheChildIsRefusedWithTheChildsReason(@TempDir Path dir) throws Exception {
        byte[] whole = java.nio.file.Files.readAllBytes(Fixtures.tiny());
        Path truncated = dir.resolve("truncated.gguf");
        java.nio.file.Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length - 16)); // the last tensor's data cut short
        with("false", "true", () -> {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(truncated));
            assertTrue(e.getMessage().contains("cannot load " + truncated + ": the file is truncated"), e.getMessage());
            assertTrue(!e.getMessage().contains("crashed"), e.getMessage());
        });
    }
}
