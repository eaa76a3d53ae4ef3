package io.panscore.api.cli;

import io.panscore.api.ScoredText;
import io.panscore.api.Scorer;
import io.panscore.kernel.ScoreOptions;
import java.io.IOException;
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
@Command(name = "score", mixinStandardHelpOptions = true, description = {"Score a text token by token under a GGUF model.",
        "Every token after the first is scored: log-prob and full-vocabulary entropy in nats, 1-based rank, the argmax;"
                + " the text's first token is scored only when the model adds a BOS before it."})
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

    @Option(names = "--format", description = "table (4 decimals, for reading) or jsonl (one object per token, every number exact:"
            + " the shortest form that reads back to the float32 computed). Default: ${DEFAULT-VALUE}")
    String format = "table";

    @Option(names = "--temperature", description = "divide the logits by T before the softmax: every statistic (log-prob, entropy,"
            + " rank, top-k) is of softmax(logits / T); 1 = the model's own distribution. Default: ${DEFAULT-VALUE}")
    double temperature = 1.0;

    @Option(names = "--top-k", paramLabel = "K", description = "also report the K most likely tokens at each position, with their"
            + " log-probs (0 = none). Default: ${DEFAULT-VALUE}")
    int topK = 0;

    @Mixin
    EngineArgs engineArgs;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("table") && !format.equals("jsonl")) {
            throw new IllegalArgumentException("--format must be table or jsonl, got " + format);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("--top-k must be >= 0, got " + topK);
        }
        String text = input.text != null ? input.text : readFile(input.file);
        if (text.isEmpty()) {
            throw new IllegalArgumentException((input.text != null ? "--text is empty" : "--file " + input.file + " is empty")
                    + ": there is nothing to score");
        }
        ScoreOptions options = ScoreOptions.defaults().withTemperature(temperature).withTopK(topK);
        try (Scorer scorer = Scorer.open(model, engineArgs.modelOptions(), engineArgs.engineOptions())) {
            ScoredText scored = scorer.scoreText(text, options);
            if (format.equals("jsonl")) {
                TokenTable.printJsonLines(scored, spec.commandLine().getOut());
            } else {
                TokenTable.print(scored, spec.commandLine().getOut());
            }
        }
        return 0;
    }

    private static String readFile(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new IOException("--file " + file + ": no such file (relative paths are from " + Path.of("").toAbsolutePath() + ")");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException("--file " + file + " is not a regular file");
        }
        if (!Files.isReadable(file)) {
            throw new IOException("--file " + file + " is not readable (permission denied)");
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new IOException("--file " + file + " is not UTF-8 text");
        }
    }
}
