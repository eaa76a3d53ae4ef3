package io.panscore.bench;

import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The inputs every benchmark and script shares, so that the JMH numbers and llama-perplexity's are
 * taken on the same model and the same text: the model path ("" = the 151,936-token Qwen2 fixture)
 * and the bundled English text, repeated as often as needed.
 *
 * <p>Also a tiny command line for {@code scripts/bench-*.sh}:
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar io.panscore.bench.BenchInputs model [PATH]
 *       prints the model path (writes the fixture model on first use)
 *   java ... io.panscore.bench.BenchInputs text MIN_TOKENS [PATH]
 *       prints the bundled text repeated until the model's tokenizer yields at least MIN_TOKENS tokens
 * </pre>
 */
public final class BenchInputs {

    private static final String TEXT_RESOURCE = "/io/panscore/bench/bench-text.txt";

    private BenchInputs() {}

    /** The model file for the {@code model} parameter: empty means the Qwen2 fixture (written on first use). */
    public static Path modelPath(String param) {
        return param == null || param.isBlank() ? Fixtures.qwen2() : Path.of(param);
    }

    /** The bundled text (about 3.4 KB of English prose, a recipe, code and dialogue). */
    public static String text() {
        try (InputStream in = BenchInputs.class.getResourceAsStream(TEXT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(TEXT_RESOURCE + " is missing from the benchmarks jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The text repeated {@code times} times. */
    public static String text(int times) {
        return text().repeat(times);
    }

    /**
     * How many repetitions of the text the model tokenizes into at least {@code minTokens} tokens
     * (special tokens added as the model asks, like llama-perplexity does).
     */
    public static int repetitionsFor(Model model, int minTokens) {
        int times = 1;
        while (model.tokenize(text(times), true, false).length < minTokens) {
            times++;
        }
        return times;
    }

    /** The first {@code count} tokens of the repeated text: deterministic for a given model. */
    public static int[] tokens(Model model, int count) {
        int[] all = model.tokenize(text(repetitionsFor(model, count)), true, false);
        return Arrays.copyOf(all, count);
    }

    public static void main(String[] args) {
        PrintStream out = System.out;
        if (args.length >= 1 && args[0].equals("model")) {
            out.println(modelPath(args.length > 1 ? args[1] : "").toAbsolutePath());
        } else if (args.length >= 2 && args[0].equals("text")) {
            int minTokens = Integer.parseInt(args[1]);
            try (Model model = Model.load(modelPath(args.length > 2 ? args[2] : ""))) {
                out.print(text(repetitionsFor(model, minTokens)));
            }
        } else {
            System.err.println("usage: BenchInputs model [PATH] | BenchInputs text MIN_TOKENS [PATH]");
            System.exit(2);
        }
        out.flush();
    }
}
