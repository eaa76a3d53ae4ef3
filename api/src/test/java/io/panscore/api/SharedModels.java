package io.panscore.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Real models from the project's shared folder: {@code shared/models/} beside the checkout (CI
 * clones the repository with {@code shared/} next to it, so from a module's directory it is
 * {@code ../../shared}), found by walking up from the working directory, or where
 * {@code -Dpanscore.shared} / {@code PANSCORE_SHARED} (or {@code -Dpanscore.shared.dir} /
 * {@code PANSCORE_SHARED_DIR}) points, then /work/shared: the kernel tests' {@code Tol.stories260K}
 * looks in the same places.
 */
public final class SharedModels {

    private SharedModels() {}

    /** stories260K.gguf: a trained TinyStories llama, 512-token SentencePiece vocabulary, no chat template. */
    public static Path stories260K() {
        return find("models/stories260K.gguf");
    }

    public static Path find(String relative) {
        return optional(relative).orElseThrow(() -> new IllegalStateException("shared model " + relative + " not found; looked at "
                + candidates(relative) + " (set -Dpanscore.shared or PANSCORE_SHARED to the shared folder)"));
    }

    /** stories260K.gguf if it is there: for tests that can say so and go on with the fixtures. */
    public static Optional<Path> optionalStories260K() {
        return optional("models/stories260K.gguf");
    }

    private static Optional<Path> optional(String relative) {
        return candidates(relative).stream().filter(Files::isRegularFile).map(Path::normalize).findFirst();
    }

    private static List<Path> candidates(String relative) {
        List<Path> tried = new ArrayList<>();
        for (String configured : new String[] {System.getProperty("panscore.shared", System.getenv("PANSCORE_SHARED")),
                System.getProperty("panscore.shared.dir", System.getenv("PANSCORE_SHARED_DIR"))}) {
            if (configured != null) {
                tried.add(Path.of(configured).resolve(relative));
            }
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            tried.add(dir.resolve("shared").resolve(relative));
        }
        tried.add(Path.of("/work/shared").resolve(relative));
        return tried;
    }
}
