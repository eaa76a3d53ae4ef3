package io.panscore.kernel;

import io.panscore.kernel.fixture.GgufFile;
import io.panscore.kernel.fixture.GgufFile.BoolValue;
import io.panscore.kernel.fixture.GgufFile.FloatArray;
import io.panscore.kernel.fixture.GgufFile.FloatValue;
import io.panscore.kernel.fixture.GgufFile.IntegerArray;
import io.panscore.kernel.fixture.GgufFile.IntegerValue;
import io.panscore.kernel.fixture.GgufFile.StringArray;
import io.panscore.kernel.fixture.GgufFile.StringValue;
import io.panscore.kernel.fixture.GgufFile.TensorInfo;
import io.panscore.kernel.fixture.GgufFile.Value;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Checks a GGUF file in Java before llama.cpp sees it, so that a corrupt or hostile file becomes a
 * {@link ModelLoadException} naming the problem instead of a {@code GGML_ASSERT} that aborts the
 * JVM. What is checked (against the pinned llama.cpp, see docs/RELIABILITY.md):
 * <ul>
 * <li>the container ({@link GgufFile}): magic, version, counts that fit the file, value types,
 *     string lengths and UTF-8, duplicate keys, alignment, tensor dimensions;</li>
 * <li>tensors: names (non-empty, under 64 bytes, unique), known ggml types usable as weights,
 *     rows divisible by the type's block, data offsets aligned, in sequence and inside the file;</li>
 * <li>the vocabulary ({@code llama-vocab.cpp}): the token list present and of strings, no two
 *     tokens with the same text (an empty token counts as {@code [EMPTY_i]}, as llama.cpp renames
 *     it) -- the {@code id_to_token.size() == token_to_id.size()} assertion --, scores and token
 *     types of the right types and lengths, token types known, tokens of sane length, merges of
 *     strings, a known tokenizer model, and the BOS/EOS/SEP a tokenizer must add existing;</li>
 * <li>hyper-parameters ({@code llama-model.cpp}): block count in (0, 512], next-n layers, expert
 *     counts and groups as llama.cpp asserts them, positive context, embedding and head counts,
 *     KV heads dividing heads;</li>
 * <li>architecture: recurrent and hybrid ones (Mamba, RWKV, Jamba, ...) are refused, since
 *     panscore's row order and session undo need a plain KV cache.</li>
 * </ul>
 * What cannot be checked here (weights' values, architecture-specific asserts of exotic models)
 * is covered by the optional child-process first load ({@link Model#load}).
 */
final class GgufValidator {

    /** ggml's GGML_MAX_NAME: a tensor name must be shorter. */
    static final int MAX_NAME = 64;
    /** llama.cpp's LLAMA_MAX_LAYERS and LLAMA_MAX_EXPERTS. */
    static final int MAX_LAYERS = 512;
    static final int MAX_EXPERTS = 1024;
    /** Longest token text accepted (llama.cpp aborts beyond INT32_MAX; real vocabularies stay far below). */
    static final int MAX_TOKEN_BYTES = 1 << 16;

    /** Architectures llama.cpp runs with recurrent state (llm_arch_is_recurrent / llm_arch_is_hybrid of the pinned tree). */
    static final Set<String> RECURRENT_OR_HYBRID = Set.of("mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7", "jamba", "falcon-h1", "plamo2",
            "granitehybrid", "lfm2", "lfm2moe", "nemotron_h", "nemotron_h_moe", "qwen3next", "kimi-linear", "bailingmoe3", "kimi-k3", "qwen35",
            "qwen35moe", "qwen4exp", "deepseek4", "minimax-01");

    /** ggml_type_traits of the pinned ggml: {block size, type size} by type id; {0, 0} = removed. */
    private static final int[][] TYPES = {
        {1, 4}, {1, 2}, {32, 18}, {32, 20}, {0, 0}, {0, 0}, {32, 22}, {32, 24}, {32, 34}, {32, 36}, // 0-9
        {256, 84}, {256, 110}, {256, 144}, {256, 176}, {256, 210}, {256, 292}, {256, 66}, {256, 74}, {256, 98}, {256, 50}, // 10-19
        {32, 18}, {256, 110}, {256, 82}, {256, 136}, {1, 1}, {1, 2}, {1, 4}, {1, 8}, {1, 8}, {256, 56}, // 20-29
        {1, 2}, {0, 0}, {0, 0}, {0, 0}, {256, 54}, {256, 66}, {0, 0}, {0, 0}, {0, 0}, {32, 17}, // 30-39
        {64, 36}, {128, 18}, {64, 18}, // 40-42
    };
    private static final String[] TYPE_NAMES = {"f32", "f16", "q4_0", "q4_1", "?", "?", "q5_0", "q5_1", "q8_0", "q8_1", "q2_K", "q3_K", "q4_K", "q5_K",
        "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m",
        "bf16", "?", "?", "?", "tq1_0", "tq2_0", "?", "?", "?", "mxfp4", "nvfp4", "q1_0", "q2_0"};
    /** Integer and f64 tensors are no weights: matrix products on them abort in ggml. */
    private static final Set<Integer> NOT_WEIGHTS = Set.of(24, 25, 26, 27, 28);

    /** llama.cpp's token types (llama_token_type): UNDEFINED .. BYTE. */
    private static final int MAX_TOKEN_TYPE = 6;

    private GgufValidator() {}

    /** Validates the file; returns its parsed header. */
    static GgufFile validate(Path path) {
        GgufFile f;
        try {
            f = GgufFile.read(path);
        } catch (GgufFile.FormatException e) {
            throw bad(e.getMessage().startsWith(path.toString()) ? e.getMessage() : path + ": " + e.getMessage());
        } catch (IOException e) {
            throw new ModelLoadException(Status.FILE_NOT_FOUND, "cannot read model file '" + path + "': " + e.getMessage());
        } catch (OutOfMemoryError e) {
            throw bad(path + ": the GGUF metadata does not fit in the Java heap");
        }
        new GgufValidator.Run(path, f).check();
        return f;
    }

    private static ModelLoadException bad(String message) {
        return new ModelLoadException(Status.MODEL_FORMAT, message);
    }

    /** Status codes of panscore.h (PS_ERR_FILE_NOT_FOUND, PS_ERR_MODEL_FORMAT). */
    private static final class Status {
        static final int FILE_NOT_FOUND = 2;
        static final int MODEL_FORMAT = 3;
    }

    private record Run(Path path, GgufFile f) {

        ModelLoadException fail(String what) {
            return bad(path + ": " + what + " (refused before llama.cpp parses it)");
        }

        void check() {
            String arch = string("general.architecture");
            if (arch == null) {
                throw fail("missing general.architecture");
            }
            if (RECURRENT_OR_HYBRID.contains(arch.toLowerCase(Locale.ROOT))) {
                throw fail("architecture '" + arch + "' is recurrent or hybrid: its memory splits batches by sequence and cannot undo part of a"
                        + " sequence, so panscore's per-row statistics and sessions would be wrong; use a transformer model");
            }
            tensors();
            vocabulary();
            hyperParameters(arch);
        }

        void tensors() {
            long fileSize;
            try {
                fileSize = Files.size(path);
            } catch (IOException e) {
                throw fail("cannot stat the file: " + e.getMessage());
            }
            Set<String> names = new HashSet<>();
            long expected = 0;
            long alignment = f.alignment();
            for (TensorInfo t : f.tensors()) {
                String name = t.name();
                if (name.isEmpty() || name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= MAX_NAME) {
                    throw fail("tensor name '" + name + "' is empty or " + MAX_NAME + " bytes or longer");
                }
                if (!names.add(name)) {
                    throw fail("duplicate tensor '" + name + "'");
                }
                int type = t.typeId();
                if (type < 0 || type >= TYPES.length || TYPES[type][0] == 0) {
                    throw fail("tensor '" + name + "' has unknown or removed ggml type " + Integer.toUnsignedString(type));
                }
                if (NOT_WEIGHTS.contains(type)) {
                    throw fail("tensor '" + name + "' has type " + TYPE_NAMES[type] + ", which no model weight has");
                }
                long[] ne = t.shape();
                for (long d : ne) {
                    if (d <= 0) {
                        throw fail("tensor '" + name + "' has a dimension of " + d);
                    }
                }
                int block = TYPES[type][0];
                if (ne[0] % block != 0) {
                    throw fail("tensor '" + name + "': its rows of " + ne[0] + " elements are not a multiple of the " + TYPE_NAMES[type] + " block of " + block);
                }
                if (ne.length == 1 && type != 0 && type != 1 && type != 30) {
                    throw fail("tensor '" + name + "' is a vector (a norm or bias) of type " + TYPE_NAMES[type] + "; llama.cpp needs f32, f16 or bf16");
                }
                long bytes;
                try {
                    bytes = Math.multiplyExact(ne[0] / block, (long) TYPES[type][1]);
                    for (int i = 1; i < ne.length; i++) {
                        bytes = Math.multiplyExact(bytes, ne[i]);
                    }
                } catch (ArithmeticException e) {
                    throw fail("tensor '" + name + "' is too large (its byte size overflows)");
                }
                if (t.offset() != expected) {
                    throw fail("tensor '" + name + "' has data offset " + Long.toUnsignedString(t.offset()) + ", expected " + expected
                            + " (tensor data must follow each other, aligned to " + alignment + " bytes)");
                }
                long end = f.dataOffset() + t.offset() + bytes;
                if (end < 0 || end > fileSize) {
                    throw fail("the data of tensor '" + name + "' (" + bytes + " bytes at " + (f.dataOffset() + t.offset())
                            + ") extends beyond the end of the " + fileSize + "-byte file (truncated?)");
                }
                expected = t.offset() + (bytes + alignment - 1) / alignment * alignment;
            }
        }

        void vocabulary() {
            Value tokensValue = f.metadata().get("tokenizer.ggml.tokens");
            if (tokensValue == null) {
                throw fail("missing tokenizer.ggml.tokens (the vocabulary)");
            }
            if (!(tokensValue instanceof StringArray sa)) {
                throw fail("tokenizer.ggml.tokens must be an array of strings, is " + tokensValue.describeType());
            }
            List<String> tokens = sa.values();
            int n = tokens.size();
            if (n == 0) {
                throw fail("the vocabulary (tokenizer.ggml.tokens) is empty");
            }
            String model = string("tokenizer.ggml.model");
            if (model == null) {
                throw fail("missing tokenizer.ggml.model");
            }
            if (!Set.of("no_vocab", "none", "llama", "bert", "gpt2", "hybriddna", "whitespace", "t5", "rwkv", "test", "plamo2", "gemma4")
                    .contains(model)) {
                throw fail("unknown tokenizer model '" + model + "'");
            }
            Map<String, Integer> seen = new HashMap<>(n * 2);
            for (int i = 0; i < n; i++) {
                String word = tokens.get(i);
                if (word.length() > MAX_TOKEN_BYTES) {
                    throw fail("token " + i + " is " + word.length() + " characters long, more than " + MAX_TOKEN_BYTES);
                }
                String key = word.isEmpty() ? "[EMPTY_" + i + "]" : word; // llama.cpp's renaming of empty tokens
                Integer before = seen.putIfAbsent(key, i);
                if (before != null) {
                    throw fail("the vocabulary holds the token text \"" + printable(key) + "\" twice (ids " + before + " and " + i
                            + "); llama.cpp would abort on it");
                }
            }
            Value scores = f.metadata().get("tokenizer.ggml.scores");
            if (scores != null) {
                int len = scores instanceof FloatArray fa && fa.elementType() == GgufFile.ValueType.FLOAT32 ? fa.size()
                        : scores instanceof IntegerArray ia && ia.elementType() == GgufFile.ValueType.INT32 ? ia.size() : -1;
                if (len < 0) {
                    throw fail("tokenizer.ggml.scores must be an array of float32 or int32, is " + scores.describeType());
                }
                if (len < n) {
                    throw fail("tokenizer.ggml.scores has " + len + " entries for " + n + " tokens");
                }
            }
            Value types = f.metadata().get("tokenizer.ggml.token_type");
            if (types != null) {
                if (!(types instanceof IntegerArray ia) || ia.elementType() != GgufFile.ValueType.INT32) {
                    throw fail("tokenizer.ggml.token_type must be an array of int32, is " + types.describeType());
                }
                if (ia.size() < n) {
                    throw fail("tokenizer.ggml.token_type has " + ia.size() + " entries for " + n + " tokens");
                }
                for (int i = 0; i < n; i++) {
                    long t = ia.get(i);
                    if (t < 0 || t > MAX_TOKEN_TYPE) {
                        throw fail("token " + i + " has unknown token type " + t);
                    }
                }
            }
            Value merges = f.metadata().get("tokenizer.ggml.merges");
            if (merges != null && !(merges instanceof StringArray)) {
                throw fail("tokenizer.ggml.merges must be an array of strings, is " + merges.describeType());
            }
            if ((model.equals("gpt2") || model.equals("gemma4")) && merges == null && !"kimi-k2".equals(string("tokenizer.ggml.pre"))) {
                throw fail("a BPE vocabulary without tokenizer.ggml.merges");
            }
            for (String key : List.of("tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_sep_token")) {
                Value v = f.metadata().get(key);
                if (v != null && !(v instanceof BoolValue)) {
                    throw fail(key + " must be a bool, is " + v.describeType());
                }
            }
            // The tokenizer asserts that the special token it must add exists (llama-vocab.cpp tokenize).
            Defaults d = Defaults.of(model);
            requireSpecial("bos", d.bos, flag("tokenizer.ggml.add_bos_token", d.addBos), n);
            requireSpecial("eos", d.eos, flag("tokenizer.ggml.add_eos_token", d.addEos), n);
            requireSpecial("seperator", d.sep, flag("tokenizer.ggml.add_sep_token", d.addSep), n);
        }

        /** Special-token defaults per tokenizer model (llama-vocab.cpp load), enough for the add_* checks. */
        private record Defaults(int bos, int eos, int sep, boolean addBos, boolean addEos, boolean addSep) {
            static Defaults of(String model) {
                return switch (model) {
                    case "llama" -> new Defaults(1, 2, -1, true, false, false);
                    case "bert" -> new Defaults(101, -1, 102, true, false, true);
                    case "gpt2", "hybriddna", "whitespace" -> new Defaults(11, 11, -1, false, false, false);
                    case "t5" -> new Defaults(-1, 1, -1, false, true, false);
                    case "plamo2" -> new Defaults(1, 2, -1, false, false, false);
                    default -> new Defaults(-1, -1, -1, false, false, false);
                };
            }
        }

        private void requireSpecial(String which, int defaultId, boolean add, int n) {
            if (!add) {
                return;
            }
            int id = defaultId >= 0 && defaultId < n ? defaultId : -1;
            Value v = f.metadata().get("tokenizer.ggml." + which + "_token_id");
            if (v instanceof IntegerValue iv && iv.value() >= 0 && iv.value() < n) {
                id = (int) iv.value();
            }
            if (id < 0) {
                throw fail("the tokenizer must add a " + which.toUpperCase(Locale.ROOT) + " token but the vocabulary of " + n
                        + " tokens has none (tokenizer.ggml." + which + "_token_id missing or out of range)");
            }
        }

        private boolean flag(String key, boolean otherwise) {
            return f.metadata().get(key) instanceof BoolValue b ? b.value() : otherwise;
        }

        void hyperParameters(String arch) {
            long layers = integer(arch + ".block_count", -1);
            if (layers <= 0 || layers > MAX_LAYERS) {
                throw fail(arch + ".block_count must be in [1, " + MAX_LAYERS + "], is " + (layers == -1 ? "missing" : Long.toString(layers)));
            }
            long nextn = integer(arch + ".nextn_predict_layers", 0);
            if (nextn < 0 || nextn > layers) {
                throw fail(arch + ".nextn_predict_layers = " + nextn + " is more than the " + layers + " blocks");
            }
            if (integer(arch + ".context_length", -1) <= 0) {
                throw fail(arch + ".context_length must be > 0");
            }
            long embd = integer(arch + ".embedding_length", -1);
            if (embd <= 0) {
                throw fail(arch + ".embedding_length must be > 0");
            }
            long experts = integer(arch + ".expert_count", 0);
            long used = maxOf(arch + ".expert_used_count", layers);
            long groups = integer(arch + ".expert_group_count", 0);
            long groupUsed = integer(arch + ".expert_group_used_count", 0);
            if (experts < 0 || experts > MAX_EXPERTS) {
                throw fail(arch + ".expert_count = " + experts + " is outside [0, " + MAX_EXPERTS + "]");
            }
            if (used < 0 || used > experts) {
                throw fail(arch + ".expert_used_count = " + used + " is more than the " + experts + " experts");
            }
            if (experts > 0) {
                if (used == 0 || groups < 0 || groups >= experts) {
                    throw fail("a mixture of " + experts + " experts needs 0 < expert_used_count and expert_group_count < expert_count");
                }
                if (groups > 1 && (experts % groups != 0 || groupUsed <= 0 || groupUsed >= groups)) {
                    throw fail(arch + ": " + groups + " expert groups must divide " + experts + " experts, with 0 < expert_group_used_count < groups");
                }
            } else if (used != 0 || groups != 0) {
                throw fail(arch + ": expert_used_count or expert_group_count set without experts");
            }
            long heads = maxOf(arch + ".attention.head_count", layers);
            long kvHeads = maxOf(arch + ".attention.head_count_kv", layers);
            if (f.metadata().get(arch + ".attention.head_count") instanceof IntegerValue
                    && f.metadata().get(arch + ".attention.head_count_kv") instanceof IntegerValue) {
                // grouped-query attention broadcasts KV heads over query heads: ggml asserts at the first decode otherwise
                if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
                    throw fail(arch + ".attention.head_count_kv = " + kvHeads + " must be > 0 and divide head_count = " + heads);
                }
            }
            String scaling = string(arch + ".rope.scaling.type");
            if (scaling != null && !Set.of("none", "linear", "yarn", "longrope").contains(scaling)) {
                throw fail(arch + ".rope.scaling.type '" + scaling + "' is not none, linear, yarn or longrope");
            }
            for (String key : List.of(".rope.freq_base", ".attention.layer_norm_rms_epsilon", ".attention.layer_norm_epsilon")) {
                Value v = f.metadata().get(arch + key);
                if (v instanceof FloatValue fv && !Double.isFinite(fv.value())) {
                    throw fail(arch + key + " is " + fv.value());
                }
            }
        }

        /** A per-layer key given as a scalar or an array (llama.cpp's get_key_or_arr): the largest value; arrays longer than the layers are refused. */
        private long maxOf(String key, long layers) {
            Value v = f.metadata().get(key);
            if (v instanceof IntegerArray ia) {
                if (ia.size() > layers) {
                    throw fail(key + " has " + ia.size() + " entries for " + layers + " layers");
                }
                long m = 0;
                for (long x : ia.values()) {
                    if (x < 0 || x > Integer.MAX_VALUE) {
                        throw fail(key + " holds " + x);
                    }
                    m = Math.max(m, x);
                }
                return m;
            }
            if (v == null) {
                return 0;
            }
            if (!(v instanceof IntegerValue iv)) {
                throw fail(key + " must be an integer, is " + v.describeType());
            }
            if (iv.value() < 0 || iv.value() > Integer.MAX_VALUE) {
                throw fail(key + " = " + Long.toUnsignedString(iv.value()) + " is out of range");
            }
            return iv.value();
        }

        private long integer(String key, long otherwise) {
            Value v = f.metadata().get(key);
            if (v == null) {
                return otherwise;
            }
            if (!(v instanceof IntegerValue iv)) {
                throw fail(key + " must be an integer, is " + v.describeType());
            }
            if (iv.value() < 0 || iv.value() > Integer.MAX_VALUE) {
                throw fail(key + " = " + Long.toUnsignedString(iv.value()) + " is out of range");
            }
            return iv.value();
        }

        private String string(String key) {
            Value v = f.metadata().get(key);
            if (v == null) {
                return null;
            }
            if (!(v instanceof StringValue s)) {
                throw fail(key + " must be a string, is " + v.describeType());
            }
            return s.value();
        }
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 60; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
        }
        return b.toString();
    }
}
