package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The tolerance of the native statistics against the float64 reference, and the shared test
 * material. The fused kernel's measured worst error is 2.45e-7 x (1 + |value|) on adversarial rows
 * and real logits (docs/TESTING.md: row_stats_cpu_test and KernelErrorTest print it); tests allow
 * 10x that, so a change that makes the kernel ~10x less accurate fails them (a blanket 1e-4 would
 * let an exp() with error 1.7e-4 pass).
 */
public final class Tol {

    /** Relative to (1 + |expected|). */
    public static final double KERNEL = 2.4e-6;

    private Tol() {}

    public static void assertKernel(double expected, double actual, String where) {
        if (Double.isInfinite(expected)) {
            assertEquals(expected, actual, where);
            return;
        }
        assertEquals(expected, actual, KERNEL * (1 + Math.abs(expected)), where);
    }

    /** |actual - expected| / (1 + |expected|): the error measure the tolerance bounds. */
    public static double error(double expected, double actual) {
        return Double.isInfinite(expected) && expected == actual ? 0 : Math.abs(actual - expected) / (1 + Math.abs(expected));
    }

    /**
     * The trained TinyStories model shared beside the repository, if present. Looked up as
     * {@code api.SharedModels} does in the api module's tests: -Dpanscore.shared / PANSCORE_SHARED
     * (or -Dpanscore.shared.dir / PANSCORE_SHARED_DIR) naming the shared folder, then {@code shared/}
     * in any folder above the working directory (CI clones with ../shared beside the clone), then
     * /work/shared.
     */
    public static Optional<Path> stories260K() {
        return sharedFile("models/stories260K.gguf");
    }

    /** {@link #stories260K()}, or an exception saying where it was looked for. */
    public static Path requireStories260K() {
        return stories260K().orElseThrow(() -> new IllegalStateException("shared/models/stories260K.gguf not found (set -Dpanscore.shared or"
                + " PANSCORE_SHARED to the shared folder; CI has ../shared beside the clone)"));
    }

    static Optional<Path> sharedFile(String relative) {
        List<Path> dirs = new ArrayList<>();
        for (String configured : new String[] {System.getProperty("panscore.shared", System.getenv("PANSCORE_SHARED")),
                System.getProperty("panscore.shared.dir", System.getenv("PANSCORE_SHARED_DIR"))}) {
            if (configured != null) {
                dirs.add(Path.of(configured));
            }
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            dirs.add(dir.resolve("shared"));
        }
        dirs.add(Path.of("/work/shared"));
        return dirs.stream().map(d -> d.resolve(relative)).filter(Files::isRegularFile).map(Path::normalize).findFirst();
    }

    /** Entropy of the given log-probs' probabilities renormalised to sum to 1, in float64 (for the GlimpRouter top-k mode). */
    public static double renormalisedEntropy(double[] logprobs) {
        return ReferenceKernel.renormalisedEntropy(logprobs);
    }
}
