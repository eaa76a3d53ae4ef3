package io.panscore.api.cli;

import io.panscore.kernel.Model;
import io.panscore.kernel.ModelInfo;
import io.panscore.kernel.Runtime;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panscore info [--model M]}: the native library, and a model's metadata. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the native library and, with --model, a model's metadata.")
final class InfoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, description = "GGUF model file")
    Path model;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("panscore %s, llama.cpp %s, backends %s%nlibrary %s%n", Runtime.version(), Runtime.llamaCommit(),
                Runtime.backends(), Runtime.libraryPath());
        if (model != null) {
            try (Model m = Model.load(model)) {
                ModelInfo i = m.info();
                out.printf("model %s%n  architecture %s, name %s%n  vocabulary %,d, context %,d, embedding %d, layers %d%n"
                        + "  bos %d, eos %d, eot %d, adds bos %b%n  %,d parameters, %,d bytes%n  chat template: %s%n",
                        model, i.architecture(), i.name(), i.vocabSize(), i.contextTrain(), i.embedding(), i.layers(), i.bos(),
                        i.eos(), i.eot(), i.addsBos(), i.parameters(), i.sizeBytes(), m.chatTemplate().isPresent() ? "yes" : "no");
            }
        }
        return 0;
    }
}
