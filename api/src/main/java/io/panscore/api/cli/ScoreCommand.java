package io.panscore.api.cli;

import io.panscore.api.ScoredText;
import io.panscore.api.Scorer;
import io.panscore.kernel.ScoreOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panscore score --model M (--text T | --file F)}: a per-token table of one text. */
@Command(name = "score", mixinStandardHelpOptions = true, description = "Score a text token by token under a GGUF model.")
final class ScoreCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file")
    Path model;

    static final class Input {
        @Option(names = "--text", description = "the text to score")
        String text;

        @Option(names = "--file", description = "a UTF-8 file holding the text to score")
        Path file;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--format", description = "table or jsonl. Default: ${DEFAULT-VALUE}")
    String format = "table";

    @Option(names = "--temperature", description = "Default: ${DEFAULT-VALUE}")
    double temperature = 1.0;

    @Mixin
    EngineArgs engineArgs;

    @Override
    public Integer call() throws Exception {
        String text = input.text != null ? input.text : Files.readString(input.file, StandardCharsets.UTF_8);
        if (!format.equals("table") && !format.equals("jsonl")) {
            throw new IllegalArgumentException("--format must be table or jsonl, got " + format);
        }
        try (Scorer scorer = Scorer.open(model, engineArgs.modelOptions(), engineArgs.engineOptions())) {
            ScoredText scored = scorer.scoreText(text, ScoreOptions.defaults().withTemperature(temperature));
            if (format.equals("jsonl")) {
                TokenTable.printJsonLines(scored, spec.commandLine().getOut());
            } else {
                TokenTable.print(scored, spec.commandLine().getOut());
            }
        }
        return 0;
    }
}
