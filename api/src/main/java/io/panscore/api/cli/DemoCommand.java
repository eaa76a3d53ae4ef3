package io.panscore.api.cli;

import io.panscore.api.ScoredText;
import io.panscore.api.Scorer;
import io.panscore.kernel.ModelInfo;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panscore demo}: writes the fixture model (random weights, real Qwen2 vocabulary) unless a
 * model is given, scores the bundled sample text and prints the per-token table.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Score the bundled sample text under the fixture model (or --model) and print a per-token table.")
final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, description = "GGUF model file (default: the fixture model, written on first use)")
    Path model;

    @Mixin
    EngineArgs engineArgs;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Path path = model != null ? model : Fixtures.qwen2();
        String text = sampleText();
        try (Scorer scorer = Scorer.open(path, engineArgs.modelOptions(), engineArgs.engineOptions())) {
            ModelInfo info = scorer.model().info();
            out.printf("model: %s (%s, vocabulary %,d tokens, %d layers)%n", path, info.architecture(), info.vocabSize(), info.layers());
            if (model == null) {
                out.println("       a fixture with seeded random weights: the numbers are real statistics of a meaningless model");
            }
            long t0 = System.nanoTime();
            ScoredText scored = scorer.scoreText(text);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            TokenTable.print(scored, out);
            out.printf("scored in %d ms on %d threads%n", ms, scorer.engine().options().threads());
        }
        return 0;
    }

    static String sampleText() throws IOException {
        try (InputStream in = DemoCommand.class.getResourceAsStream("/io/panscore/api/sample.txt")) {
            if (in == null) {
                throw new IOException("the sample text is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
