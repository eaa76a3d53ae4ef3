package io.panscore.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Real models from the project's shared folder: {@code shared/models/} beside the checkout (CI
 * clones the repository with {@code shared/} next to it, so from a module's directory it is
 * {@code ../../shared}), found by walking up from the working directory, or where
 * {@code -Dpanscore.shared.dir} / {@code PANSCORE_SHARED_DIR} points.
 */
public final class SharedModels {

    private SharedModels() {}

    /** stories260K.gguf: a trained TinyStories llama, 512-token SentencePiece vocabulary, no chat template. */
    public static Path stories260K() {
        return find("models/stories260K.gguf");
    }

    public static Path find(String relative) {
        List<Path> tried = new ArrayList<>();
        String configured = System.getProperty("panscore.shared.dir", System.getenv("PANSCORE_SHARED_DIR"));
        if (configured != null) {
            tried.add(Path.of(configured).resolve(relative));
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            tried.add(dir.resolve("shared").resolve(relative));
        }
        for (Path p : tried) {
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IllegalStateException("shared model " + relative + " not found; looked at " + tried
                + " (set -Dpanscore.shared.dir or PANSCORE_SHARED_DIR to the shared folder)");
    }
}
