package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.fixture.Fixtures;
import io.panscore.kernel.fixture.GgufFile;
import io.panscore.kernel.fixture.GgufFile.BoolValue;
import io.panscore.kernel.fixture.GgufFile.FloatArray;
import io.panscore.kernel.fixture.GgufFile.FloatValue;
import io.panscore.kernel.fixture.GgufFile.IntegerArray;
import io.panscore.kernel.fixture.GgufFile.IntegerValue;
import io.panscore.kernel.fixture.GgufFile.StringArray;
import io.panscore.kernel.fixture.GgufFile.StringValue;
import io.panscore.kernel.fixture.GgufFile.Value;
import io.panscore.kernel.fixture.GgufFile.ValueType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GgufValidator at the limits it enforces (PIT survivors, docs/TESTING-kernel.md): each limit is
 * tried at its last accepted value and its first refused one, on the tiny Qwen2 fixture with one
 * metadata entry changed, and the refusal must name what is wrong. The limits are llama.cpp's
 * (LLAMA_MAX_LAYERS 512, LLAMA_MAX_EXPERTS 1024, token types UNDEFINED..BYTE = 0..6, the tokenizer
 * models' default special tokens in llama-vocab.cpp), written here by hand.
 */
class GgufValidatorEdgesTest {

    @TempDir
    static Path dir;

    static GgufMutants base;
    static String arch;
    static int n;       // the fixture's vocabulary size
    static long layers; // its block count
    static int count;

    @BeforeAll
    static void read() throws IOException {
        base = new GgufMutants(Fixtures.tiny());
        GgufFile f = GgufFile.read(Fixtures.tiny());
        arch = f.requireString("general.architecture");
        n = ((StringArray) f.metadata().get("tokenizer.ggml.tokens")).values().size();
        layers = ((IntegerValue) f.metadata().get(arch + ".block_count")).value();
        assertEquals("qwen2", arch);
        assertEquals(2051, n);
        assertEquals(2, layers);
    }

    private static Path write(Consumer<Map<String, Value>> edit) throws IOException {
        Path f = dir.resolve("edited-" + (count++) + ".gguf");
        base.edited(edit, f);
        return f;
    }

    private static void accepted(String what, Consumer<Map<String, Value>> edit) throws IOException {
        Path f = write(edit);
        assertDoesNotThrow(() -> GgufValidator.validate(f), what);
    }

    private static void refused(String what, Consumer<Map<String, Value>> edit, String... parts) throws IOException {
        Path f = write(edit);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> GgufValidator.validate(f), what);
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), what + ": \"" + e.getMessage() + "\" should say \"" + part + "\"");
        }
    }

    private static IntegerValue u32(long v) {
        return new IntegerValue(ValueType.UINT32, v);
    }

    private static List<String> tokens(Map<String, Value> m) {
        return new ArrayList<>(((StringArray) m.get("tokenizer.ggml.tokens")).values());
    }

    private static long[] filled(int size, long value) {
        long[] a = new long[size];
        Arrays.fill(a, value);
        return a;
    }

    @Test
    void tokenTextsScoresTypesAndMerges() throws IOException {
        accepted("a token of exactly 65,536 characters", m -> {
            List<String> t = tokens(m);
            t.set(n - 1, "y".repeat(1 << 16));
            m.put("tokenizer.ggml.tokens", new StringArray(t));
        });
        refused("a token of 65,537 characters", m -> {
            List<String> t = tokens(m);
            t.set(n - 1, "y".repeat((1 << 16) + 1));
            m.put("tokenizer.ggml.tokens", new StringArray(t));
        }, "token 2050 is 65537 characters long, more than 65536");

        accepted("int32 scores, one per token", m -> m.put("tokenizer.ggml.scores", new IntegerArray(ValueType.INT32, new long[n])));
        refused("int32 scores, one short", m -> m.put("tokenizer.ggml.scores", new IntegerArray(ValueType.INT32, new long[n - 1])),
                "tokenizer.ggml.scores has 2050 entries for 2051 tokens");
        refused("no scores at all", m -> m.put("tokenizer.ggml.scores", new FloatArray(ValueType.FLOAT32, new double[0])),
                "tokenizer.ggml.scores has 0 entries for 2051 tokens");
        refused("float64 scores", m -> m.put("tokenizer.ggml.scores", new FloatArray(ValueType.FLOAT64, new double[n])),
                "tokenizer.ggml.scores must be an array of float32 or int32");
        refused("uint32 scores", m -> m.put("tokenizer.ggml.scores", new IntegerArray(ValueType.UINT32, new long[n])),
                "tokenizer.ggml.scores must be an array of float32 or int32");

        accepted("token types 0..6, all known", m -> {
            long[] t = new long[n];
            for (int i = 0; i < n; i++) {
                t[i] = i % 7;
            }
            m.put("tokenizer.ggml.token_type", new IntegerArray(ValueType.INT32, t));
        });
        refused("token type 7", m -> {
            long[] t = filled(n, 1);
            t[5] = 7;
            m.put("tokenizer.ggml.token_type", new IntegerArray(ValueType.INT32, t));
        }, "token 5 has unknown token type 7");
        refused("token type -1", m -> {
            long[] t = filled(n, 1);
            t[6] = -1;
            m.put("tokenizer.ggml.token_type", new IntegerArray(ValueType.INT32, t));
        }, "token 6 has unknown token type -1");
        refused("uint32 token types", m -> m.put("tokenizer.ggml.token_type", new IntegerArray(ValueType.UINT32, filled(n, 1))),
                "tokenizer.ggml.token_type must be an array of int32");
        refused("token types, one short", m -> m.put("tokenizer.ggml.token_type", new IntegerArray(ValueType.INT32, filled(n - 1, 1))),
                "tokenizer.ggml.token_type has 2050 entries for 2051 tokens");

        refused("merges of integers", m -> m.put("tokenizer.ggml.merges", new IntegerArray(ValueType.INT32, new long[3])),
                "tokenizer.ggml.merges must be an array of strings");
        accepted("no merges, kimi-k2 pre-tokenizer", m -> {
            m.remove("tokenizer.ggml.merges");
            m.put("tokenizer.ggml.pre", new StringValue("kimi-k2"));
        });
        refused("no merges, gemma4", m -> {
            m.remove("tokenizer.ggml.merges");
            m.put("tokenizer.ggml.model", new StringValue("gemma4"));
        }, "a BPE vocabulary without tokenizer.ggml.merges");
        refused("add_eos_token an integer", m -> m.put("tokenizer.ggml.add_eos_token", new IntegerValue(ValueType.UINT8, 1)),
                "tokenizer.ggml.add_eos_token must be a bool");
        refused("add_sep_token a string", m -> m.put("tokenizer.ggml.add_sep_token", new StringValue("yes")),
                "tokenizer.ggml.add_sep_token must be a bool");
    }

    /** The first {@code size} tokens, as a gpt2 vocabulary (default BOS and EOS: id 11) with no special-token ids set. */
    private static Consumer<Map<String, Value>> gpt2Of(int size, Consumer<Map<String, Value>> more) {
        return m -> {
            m.put("tokenizer.ggml.tokens", new StringArray(tokens(m).subList(0, size)));
            m.remove("tokenizer.ggml.token_type");
            m.remove("tokenizer.ggml.scores");
            for (String k : List.of("bos", "eos", "eot", "eom", "unknown", "seperator", "padding", "mask", "fim_pre", "fim_suf", "fim_mid", "fim_pad",
                    "fim_rep", "fim_sep")) {
                m.remove("tokenizer.ggml." + k + "_token_id");
            }
            for (String k : List.of("add_bos_token", "add_eos_token", "add_sep_token")) {
                m.remove("tokenizer.ggml." + k);
            }
            m.put("tokenizer.ggml.model", new StringValue("gpt2"));
            more.accept(m);
        };
    }

    @Test
    void theSpecialTokensATokenizerMustAdd() throws IOException {
        BoolValue yes = new BoolValue(true);
        accepted("BOS added, the default id 11 in a vocabulary of 12", gpt2Of(12, m -> m.put("tokenizer.ggml.add_bos_token", yes)));
        refused("BOS added, the default id 11 outside a vocabulary of 11", gpt2Of(11, m -> m.put("tokenizer.ggml.add_bos_token", yes)),
                "the tokenizer must add a BOS token but the vocabulary of 11 tokens has none");
        accepted("BOS added, its id the vocabulary's last", gpt2Of(11, m -> {
            m.put("tokenizer.ggml.add_bos_token", yes);
            m.put("tokenizer.ggml.bos_token_id", u32(10));
        }));
        refused("BOS added, its id one past the vocabulary", gpt2Of(11, m -> {
            m.put("tokenizer.ggml.add_bos_token", yes);
            m.put("tokenizer.ggml.bos_token_id", u32(11));
        }), "BOS token");
        refused("EOS added, none", gpt2Of(11, m -> m.put("tokenizer.ggml.add_eos_token", yes)), "must add a EOS token");
        refused("SEP added, none (gpt2 has no default)", gpt2Of(11, m -> m.put("tokenizer.ggml.add_sep_token", yes)), "must add a SEPERATOR token");
        accepted("SEP added, id 0", gpt2Of(11, m -> {
            m.put("tokenizer.ggml.add_sep_token", yes);
            m.put("tokenizer.ggml.seperator_token_id", u32(0));
        }));
        accepted("BOS not added: none needed", gpt2Of(11, m -> m.put("tokenizer.ggml.add_bos_token", new BoolValue(false))));
    }

    @Test
    void blocksContextAndEmbedding() throws IOException {
        accepted("512 blocks", m -> m.put(arch + ".block_count", u32(512)));
        refused("513 blocks", m -> m.put(arch + ".block_count", u32(513)), "block_count must be in [1, 512], is 513");
        refused("no block count", m -> m.remove(arch + ".block_count"), "block_count must be in [1, 512], is missing");
        accepted("next-n layers = the blocks", m -> m.put(arch + ".nextn_predict_layers", u32(layers)));
        refused("next-n layers = the blocks + 1", m -> m.put(arch + ".nextn_predict_layers", u32(layers + 1)),
                "nextn_predict_layers = 3 is more than the 2 blocks");
        refused("context 0", m -> m.put(arch + ".context_length", u32(0)), "qwen2.context_length must be > 0");
        refused("no context", m -> m.remove(arch + ".context_length"), "qwen2.context_length must be > 0");
        accepted("context 2^31 - 1", m -> m.put(arch + ".context_length", u32(Integer.MAX_VALUE)));
        refused("context 2^31", m -> m.put(arch + ".context_length", u32(1L << 31)), "qwen2.context_length = 2147483648 is out of range");
        refused("embedding 0", m -> m.put(arch + ".embedding_length", u32(0)), "qwen2.embedding_length must be > 0");
        refused("rope base NaN", m -> m.put(arch + ".rope.freq_base", new FloatValue(ValueType.FLOAT32, Double.NaN)), "qwen2.rope.freq_base is NaN");
    }

    @Test
    void expertsAndGroups() throws IOException {
        String e = arch + ".expert_count";
        String used = arch + ".expert_used_count";
        String groups = arch + ".expert_group_count";
        String groupUsed = arch + ".expert_group_used_count";
        accepted("1024 experts", m -> {
            m.put(e, u32(1024));
            m.put(used, u32(2));
        });
        refused("1025 experts", m -> {
            m.put(e, u32(1025));
            m.put(used, u32(2));
        }, "expert_count = 1025 is outside [0, 1024]");
        accepted("all 8 experts used", m -> {
            m.put(e, u32(8));
            m.put(used, u32(8));
        });
        refused("9 of 8 experts used", m -> {
            m.put(e, u32(8));
            m.put(used, u32(9));
        }, "expert_used_count = 9 is more than the 8 experts");
        refused("8 experts, none used", m -> m.put(e, u32(8)), "a mixture of 8 experts needs 0 < expert_used_count");
        accepted("used count per layer, one entry per block (the largest counts)", m -> {
            m.put(e, u32(8));
            m.put(used, new IntegerArray(ValueType.UINT32, new long[] {0, 2}));
        });
        refused("used count per layer, one entry too many", m -> {
            m.put(e, u32(8));
            m.put(used, new IntegerArray(ValueType.UINT32, new long[] {2, 2, 2}));
        }, "expert_used_count has 3 entries for 2 layers");
        refused("a negative per-layer count", m -> {
            m.put(e, u32(8));
            m.put(used, new IntegerArray(ValueType.INT32, new long[] {2, -1}));
        }, "expert_used_count holds -1");
        refused("a per-layer count of 2^31", m -> {
            m.put(e, u32(8));
            m.put(used, new IntegerArray(ValueType.UINT64, new long[] {2, 1L << 31}));
        }, "expert_used_count holds 2147483648");
        refused("8 groups of 8 experts", m -> {
            m.put(e, u32(8));
            m.put(used, u32(2));
            m.put(groups, u32(8));
        }, "expert_group_count < expert_count");
        refused("7 groups do not divide 8 experts", m -> {
            m.put(e, u32(8));
            m.put(used, u32(2));
            m.put(groups, u32(7));
            m.put(groupUsed, u32(1));
        }, "7 expert groups must divide 8 experts");
        accepted("4 groups, 3 used", m -> {
            m.put(e, u32(8));
            m.put(used, u32(2));
            m.put(groups, u32(4));
            m.put(groupUsed, u32(3));
        });
        for (long bad : new long[] {0, 4}) {
            refused("4 groups, " + bad + " used", m -> {
                m.put(e, u32(8));
                m.put(used, u32(2));
                m.put(groups, u32(4));
                m.put(groupUsed, u32(bad));
            }, "4 expert groups must divide 8 experts, with 0 < expert_group_used_count < groups");
        }
        accepted("1 group: no group rule", m -> {
            m.put(e, u32(8));
            m.put(used, u32(2));
            m.put(groups, u32(1));
        });
        refused("groups without experts", m -> m.put(groups, u32(2)), "expert_used_count or expert_group_count set without experts");
        accepted("no experts, 0 used", m -> m.put(used, u32(0)));
    }

    @Test
    void headCounts() throws IOException {
        String heads = arch + ".attention.head_count";
        String kv = arch + ".attention.head_count_kv";
        refused("0 heads", m -> m.put(heads, u32(0)), "head_count_kv = ", "must be > 0 and divide head_count = 0");
        refused("0 KV heads", m -> m.put(kv, u32(0)), "head_count_kv = 0 must be > 0 and divide head_count");
        accepted("2^31 - 1 heads, no KV head count", m -> {
            m.put(heads, u32(Integer.MAX_VALUE));
            m.remove(kv);
        });
        refused("2^31 heads", m -> {
            m.put(heads, u32(1L << 31));
            m.remove(kv);
        }, "qwen2.attention.head_count = 2147483648 is out of range");
        accepted("heads per layer (no divisibility check on arrays), 0 and 2^31 - 1 included", m -> {
            m.put(heads, new IntegerArray(ValueType.UINT32, new long[] {0, Integer.MAX_VALUE}));
        });
        refused("heads as a string", m -> m.put(heads, new StringValue("4")), "qwen2.attention.head_count must be an integer");
    }

    @Test
    void tensorLimits(@TempDir Path files) throws IOException {
        for (String[] c : new String[][] {{"tensor-dim-0", "has a dimension of 0"}, {"tensor-type-43", "unknown or removed ggml type 43"}}) {
            Path f = files.resolve(c[0] + ".gguf");
            base.forged(c[0], f);
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> GgufValidator.validate(f), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
        }
    }

    @Test
    void theParsedHeaderTheFileOnceInAMessageAndPrintableTokenTexts(@TempDir Path files) throws IOException {
        GgufFile parsed = GgufValidator.validate(Fixtures.tiny());
        assertEquals(GgufFile.read(Fixtures.tiny()).tensors().size(), parsed.tensors().size(), "validate returns the parsed header");
        assertEquals("qwen2", parsed.requireString("general.architecture"));

        Path text = files.resolve("text.gguf");
        java.nio.file.Files.writeString(text, "this is a text file, not a model");
        ModelLoadException notGguf = assertThrows(ModelLoadException.class, () -> GgufValidator.validate(text));
        assertTrue(notGguf.getMessage().startsWith(text + ": "), notGguf.getMessage());
        assertEquals(notGguf.getMessage().indexOf(text.toString()), notGguf.getMessage().lastIndexOf(text.toString()), "the path once: " + notGguf.getMessage());

        // a duplicated token text is quoted with control characters escaped (a space is printable), cut at 60 characters
        refused("a duplicated text with a tab and a space", m -> {
            List<String> t = tokens(m);
            t.set(8, "a\tb c\u007f");
            t.set(9, "a\tb c\u007f");
            m.put("tokenizer.ggml.tokens", new StringArray(t));
        }, "the token text \"a\\x09b c\\x7f\" twice (ids 8 and 9)");
        refused("a duplicated long text", m -> {
            List<String> t = tokens(m);
            t.set(8, "q".repeat(100));
            t.set(9, "q".repeat(100));
            m.put("tokenizer.ggml.tokens", new StringArray(t));
        }, "the token text \"" + "q".repeat(60) + "\" twice");
    }
}
