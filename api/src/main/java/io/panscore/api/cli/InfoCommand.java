package io.panscore.api.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.panscore.kernel.Model;
import io.panscore.kernel.ModelInfo;
import io.panscore.kernel.Runtime;
import io.panscore.kernel.fixture.GgufFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panscore info [--model M] [--json]}: the native library, and a model's metadata. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the native library and, with --model, a model's metadata: size, vocabulary, tokenizer, quantization, chat template.")
final class InfoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, description = "GGUF model file")
    Path model;

    @Option(names = "--json", description = "print one JSON object (with the whole chat template) instead of text")
    boolean json;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("panscore", Runtime.version());
        all.put("llama_cpp", Runtime.llamaCommit());
        all.put("backends", Runtime.backends());
        all.put("library", String.valueOf(Runtime.libraryPath()));
        Map<String, Object> m = model == null ? null : describe(model);
        if (json) {
            if (m != null) {
                all.put("model", m);
            }
            out.println(new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS).writeValueAsString(all));
            return 0;
        }
        out.printf("panscore %s, llama.cpp %s, backends %s%nlibrary %s%n", all.get("panscore"), all.get("llama_cpp"), all.get("backends"),
                all.get("library"));
        if (m != null) {
            String template = (String) m.get("chat_template");
            out.printf("model %s%n  architecture %s, name %s%n  vocabulary %,d, context %,d, embedding %d, layers %d%n"
                    + "  tokenizer %s%s, bos %d, eos %d, eot %d, adds bos %b%n  %,d parameters, %,d bytes, quantization %s (tensors: %s)%n"
                    + "  chat template: %s%n",
                    model, m.get("architecture"), m.get("name"), m.get("vocab_size"), m.get("context_train"), m.get("embedding"), m.get("layers"),
                    m.get("tokenizer"), m.get("tokenizer_pre") == null ? "" : " (pre " + m.get("tokenizer_pre") + ")", m.get("bos"), m.get("eos"),
                    m.get("eot"), m.get("adds_bos"), m.get("parameters"), m.get("size_bytes"), m.get("quantization") + (m.get("file_type") == null ? " (no general.file_type: the commonest tensor type)" : ""), m.get("tensor_types"),
                    template == null ? "none (use --template none or a built-in name with rsr/prm/demo/serve)"
                            : "yes, " + template.length() + " characters (--json prints it)");
        }
        return 0;
    }

    private static Map<String, Object> describe(Path path) {
        Map<String, Object> m = new LinkedHashMap<>();
        try (Model model = Model.load(path)) {
            ModelInfo i = model.info();
            m.put("path", path.toString());
            m.put("architecture", i.architecture());
            m.put("name", i.name());
            m.put("vocab_size", i.vocabSize());
            m.put("context_train", i.contextTrain());
            m.put("embedding", i.embedding());
            m.put("layers", i.layers());
            m.put("parameters", i.parameters());
            m.put("size_bytes", i.sizeBytes());
            m.put("tokenizer", model.metadata("tokenizer.ggml.model").orElse("unknown"));
            m.put("tokenizer_pre", model.metadata("tokenizer.ggml.pre").orElse(null));
            m.put("bos", i.bos());
            m.put("eos", i.eos());
            m.put("eot", i.eot());
            m.put("adds_bos", i.addsBos());
            Map<String, Integer> types = tensorTypes(path);
            String fileType = model.metadata("general.file_type").map(InfoCommand::fileTypeName).orElse(null);
            m.put("quantization", fileType != null ? fileType : types.isEmpty() ? "unknown" : majority(types));
            m.put("file_type", fileType); // general.file_type, null when the file does not say (then quantization is the commonest tensor type)
            m.put("tensor_types", types);
            m.put("chat_template", model.chatTemplate().orElse(null));
        }
        return m;
    }

    /** Tensors per ggml type, read from the file's tensor table. */
    private static Map<String, Integer> tensorTypes(Path path) {
        Map<String, Integer> types = new TreeMap<>();
        try {
            for (GgufFile.TensorInfo t : GgufFile.read(path).tensors()) {
                types.merge(ggmlTypeName(t.typeId()), 1, Integer::sum);
            }
        } catch (IOException | RuntimeException e) {
            // llama.cpp loaded it; leave the table empty rather than fail
        }
        return types;
    }

    private static String majority(Map<String, Integer> types) {
        return types.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
    }

    /** ggml's enum ggml_type names. */
    static String ggmlTypeName(int id) {
        String[] names = {"F32", "F16", "Q4_0", "Q4_1", null, null, "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
                "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
                null, null, null, "TQ1_0", "TQ2_0", null, null, null, "MXFP4"};
        return id >= 0 && id < names.length && names[id] != null ? names[id] : "type " + id;
    }

    /** llama.cpp's enum llama_ftype (general.file_type) names. */
    static String fileTypeName(String value) {
        String[] names = {"F32", "F16", "Q4_0", "Q4_1", "Q4_1_SOME_F16", null, null, "Q8_0", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS", "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
                "IQ3_M", "IQ2_S", "IQ2_M", "IQ4_XS", "IQ1_M", "BF16", null, null, null, "TQ1_0", "TQ2_0", "MXFP4_MOE", "NVFP4", "Q1_0", "Q2_0"};
        try {
            int id = Integer.parseInt(value.strip());
            return id >= 0 && id < names.length && names[id] != null ? names[id] : "file type " + id;
        } catch (NumberFormatException e) {
            return value;
        }
    }
}
