package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
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
     * The trained TinyStories model shared beside the repository (../shared/models/stories260K.gguf
     * from the project root), if present: PANSCORE_SHARED or -Dpanscore.shared names the folder.
     */
    public static Optional<Path> stories260K() {
        String configured = System.getProperty("panscore.shared", System.getenv("PANSCORE_SHARED"));
        Path here = Path.of("").toAbsolutePath();
        Path[] candidates = {configured == null ? null : Path.of(configured), here.resolve("../shared"), here.resolve("../../shared"),
                Path.of("/work/shared")};
        for (Path dir : candidates) {
            if (dir != null && Files.isRegularFile(dir.resolve("models/stories260K.gguf"))) {
                return Optional.of(dir.resolve("models/stories260K.gguf").normalize());
            }
        }
        return Optional.empty();
    }

    /** Entropy of the given log-probs' probabilities renormalised to sum to 1, in float64 (for the GlimpRouter top-k mode). */
    public static double renormalisedEntropy(double[] logprobs) {
        double z = 0;
        for (double lp : logprobs) {
            z += Math.exp(lp);
        }
        double h = 0;
        for (double lp : logprobs) {
            double p = Math.exp(lp) / z;
            if (p > 0) {
                h -= p * Math.log(p);
            }
        }
        return h;
    }
}
