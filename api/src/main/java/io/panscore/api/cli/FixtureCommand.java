package io.panscore.api.cli;

import io.panscore.kernel.fixture.FixtureModels;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panscore fixture --out F}: writes a fixture model (seeded random weights, real vocabulary). */
@Command(name = "fixture", mixinStandardHelpOptions = true, description = "Write a fixture GGUF model with seeded random weights.")
final class FixtureCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--out", required = true, description = "where to write the .gguf file")
    Path out;

    @Option(names = "--preset", description = "qwen2 (151,936-token vocabulary), tiny or llama (2,051 tokens), qwen05 (Qwen2.5-0.5B's shape, ~1.3 GB). Default: ${DEFAULT-VALUE}")
    String preset = "qwen2";

    @Option(names = "--seed", description = "Default: ${DEFAULT-VALUE}")
    long seed = FixtureSpec.DEFAULT_SEED;

    @Override
    public Integer call() throws IOException {
        FixtureSpec base = switch (preset) {
            case "qwen2" -> FixtureSpec.qwen2FullVocab();
            case "tiny" -> FixtureSpec.tinyQwen2Small();
            case "llama" -> FixtureSpec.llamaSmall();
            // the shape of Qwen2.5-0.5B (d896, 24 layers, 14 heads / 2 KV, ff 4864, 32k context), F16 weights: for long-context benchmarks
            case "qwen05" -> new FixtureSpec(FixtureSpec.QWEN2, FixtureSpec.FixtureVocabulary.FULL, 896, 24, 14, 2, 4864, 32768,
                    FixtureSpec.DEFAULT_SEED, FixtureSpec.WeightType.F16);
            default -> throw new IllegalArgumentException("--preset must be qwen2, tiny, llama or qwen05, got " + preset);
        };
        FixtureModels.write(Fixtures.qwen2Vocabulary(), base.withSeed(seed), out);
        spec.commandLine().getOut().println("wrote " + out + " (" + base.withSeed(seed).modelName() + ")");
        return 0;
    }
}
