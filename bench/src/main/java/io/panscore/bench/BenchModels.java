package io.panscore.bench;

import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;

/**
 * The {@code model} / {@code reference} parameters of the RSR, PRM and router benchmarks: a fixture
 * name or a GGUF path. Fixture models are written to the panscore cache on first use.
 * <ul>
 *   <li>{@code qwen2} (or empty): the 151,936-token Qwen2 fixture (d=256, 4 layers, F16), the
 *       benchmark model of {@link ScoringBenchmark};</li>
 *   <li>{@code tiny}: the small-vocabulary unit-test fixture (2,051 tokens, d=64, 2 layers, F32);</li>
 *   <li>anything else: a path to a GGUF file.</li>
 * </ul>
 * The reference model of implicit PRM defaults to the same fixture with another weight seed (7):
 * the same vocabulary, different log-probs.
 */
public final class BenchModels {

    /** Seed of the reference fixture (the policy fixtures use {@link FixtureSpec#DEFAULT_SEED}). */
    public static final long REFERENCE_SEED = 7;

    private BenchModels() {}

    /** The model file named by a {@code model} parameter. */
    public static Path path(String param) {
        return switch (param == null ? "" : param.strip()) {
            case "", "qwen2" -> Fixtures.qwen2();
            case "tiny" -> Fixtures.tiny();
            default -> Path.of(param);
        };
    }

    /**
     * The reference model for a policy {@code model} parameter: {@code reference} when it is not
     * empty (a fixture name or a path), otherwise the policy fixture with seed {@link #REFERENCE_SEED}.
     *
     * @throws IllegalArgumentException when the policy is a file and no reference is given
     */
    public static Path reference(String model, String reference) {
        if (reference != null && !reference.isBlank()) {
            return path(reference);
        }
        return switch (model == null ? "" : model.strip()) {
            case "", "qwen2" -> Fixtures.model(FixtureSpec.qwen2FullVocab().withSeed(REFERENCE_SEED));
            case "tiny" -> Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(REFERENCE_SEED));
            default -> throw new IllegalArgumentException("model " + model + " is a file: name its reference model too (-p reference=PATH)");
        };
    }
}
