package io.panscore.kernel;

import io.panscore.kernel.fixture.GgufFile;
import io.panscore.kernel.fixture.GgufFile.BoolValue;
import io.panscore.kernel.fixture.GgufFile.IntegerArray;
import io.panscore.kernel.fixture.GgufFile.IntegerValue;
import io.panscore.kernel.fixture.GgufFile.StringArray;
import io.panscore.kernel.fixture.GgufFile.StringValue;
import io.panscore.kernel.fixture.GgufFile.TensorInfo;
import io.panscore.kernel.fixture.GgufFile.Value;
import io.panscore.kernel.fixture.GgufFile.ValueType;
import io.panscore.kernel.fixture.GgufWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Corrupted variants of a GGUF file for the validation tests and the GGUF campaign: bit flips,
 * truncations, forged counts, lengths, offsets, types and dimensions, and semantic forgeries of
 * the metadata (duplicated or missing vocabulary entries, out-of-range hyper-parameters, ...).
 * Deterministic for a seed.
 */
final class GgufMutants {

    private final Path base;
    private final byte[] bytes;
    private final GgufFile gguf;
    private final String arch;

    GgufMutants(Path base) throws IOException {
        this.base = base;
        this.bytes = Files.readAllBytes(base);
        this.gguf = GgufFile.read(base);
        this.arch = gguf.requireString("general.architecture");
    }

    /** Semantic forgeries by name (rewritten through {@link GgufWriter}). */
    static final List<String> SEMANTIC = List.of("duplicate-token", "empty-token-collision", "missing-tokens", "tokens-not-strings", "short-scores",
            "bad-token-type", "short-token-type", "block-count-0", "block-count-1000", "kv-heads-3", "experts-2000", "experts-used-no-experts",
            "rope-scaling-bogus", "arch-mamba", "arch-rwkv6", "arch-missing", "tokenizer-bogus", "merges-missing", "context-0", "embedding-0",
            "tokenizer-model-int", "huge-token", "alignment-3", "nextn-5", "arch-llama-keys-qwen2", "bos-required-missing", "scores-strings",
            "head-count-array-long", "block-count-string", "add-bos-int");

    /** Byte-level forgeries of tensor infos and the header. */
    static final List<String> FORGED = List.of("tensor-type-i32", "tensor-type-q4_0", "tensor-type-99", "tensor-type-removed", "tensor-dim-0",
            "tensor-dim-huge", "tensor-offset-plus-32", "tensor-offset-huge", "tensor-ndims-5", "tensor-name-length-huge", "tensor-count-huge",
            "tensor-count-minus-1", "kv-count-huge", "kv-count-minus-1", "version-1", "version-4", "magic", "tensor-dim-double", "tensor-vector-q8");

    /** Writes mutant number {@code i} of the campaign with {@code seed} to {@code out}; returns what was done. */
    String write(int i, long seed, Path out) throws IOException {
        Random rnd = new Random(seed * 1_000_003L + i);
        int kind = i < SEMANTIC.size() ? 100 : i < SEMANTIC.size() + FORGED.size() ? 101 : rnd.nextInt(100);
        if (kind == 100) {
            return semantic(SEMANTIC.get(i), out);
        }
        if (kind == 101) {
            return forged(FORGED.get(i - SEMANTIC.size()), out);
        }
        if (kind < 40) { // flips in the header (metadata, vocabulary, tensor infos): where they matter
            byte[] b = bytes.clone();
            int n = 1 + rnd.nextInt(4);
            StringBuilder what = new StringBuilder("header bit flips at");
            for (int k = 0; k < n; k++) {
                int pos = rnd.nextInt((int) Math.min(gguf.dataOffset(), Integer.MAX_VALUE));
                b[pos] ^= (byte) (1 << rnd.nextInt(8));
                what.append(' ').append(pos);
            }
            Files.write(out, b);
            return what.toString();
        }
        if (kind < 50) { // flips anywhere (mostly weights: must load and score)
            byte[] b = bytes.clone();
            int pos = rnd.nextInt(b.length);
            b[pos] ^= (byte) (1 << rnd.nextInt(8));
            Files.write(out, b);
            return "bit flip at " + pos;
        }
        if (kind < 60) {
            int keep = rnd.nextBoolean() ? rnd.nextInt((int) Math.min(gguf.dataOffset() + 64, bytes.length)) : rnd.nextInt(bytes.length);
            Files.write(out, Arrays.copyOf(bytes, keep));
            return "truncated to " + keep;
        }
        if (kind < 70) { // a forged 32- or 64-bit field somewhere in the header
            byte[] b = bytes.clone();
            int pos = rnd.nextInt((int) Math.min(gguf.dataOffset() - 8, Integer.MAX_VALUE));
            long[] values = {0, 1, -1, Long.MAX_VALUE, Integer.MAX_VALUE, 0xFFFF_FFFFL, 1L << 40, rnd.nextLong(), 64, 3};
            long v = values[rnd.nextInt(values.length)];
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(pos, v);
            Files.write(out, b);
            return "forged 64-bit " + v + " at " + pos;
        }
        if (kind < 85) {
            return semantic(SEMANTIC.get(rnd.nextInt(SEMANTIC.size())), out);
        }
        return forged(FORGED.get(rnd.nextInt(FORGED.size())), out);
    }

    String semantic(String what, Path out) throws IOException {
        Map<String, Value> m = new LinkedHashMap<>(gguf.metadata());
        List<String> tokens = new ArrayList<>(((StringArray) m.get("tokenizer.ggml.tokens")).values());
        int n = tokens.size();
        switch (what) {
            case "duplicate-token" -> {
                tokens.set(5, tokens.get(4));
                m.put("tokenizer.ggml.tokens", new StringArray(tokens));
            }
            case "empty-token-collision" -> {
                tokens.set(3, "");
                tokens.set(7, "[EMPTY_3]");
                m.put("tokenizer.ggml.tokens", new StringArray(tokens));
            }
            case "missing-tokens" -> m.remove("tokenizer.ggml.tokens");
            case "tokens-not-strings" -> m.put("tokenizer.ggml.tokens", new IntegerArray(ValueType.INT32, new long[n]));
            case "short-scores" -> m.put("tokenizer.ggml.scores", new GgufFile.FloatArray(ValueType.FLOAT32, new double[n - 1]));
            case "scores-strings" -> m.put("tokenizer.ggml.scores", new StringArray(tokens));
            case "bad-token-type" -> {
                long[] t = new long[n];
                Arrays.fill(t, 1);
                t[n / 2] = 9;
                m.put("tokenizer.ggml.token_type", new IntegerArray(ValueType.INT32, t));
            }
            case "short-token-type" -> m.put("tokenizer.ggml.token_type", new IntegerArray(ValueType.INT32, new long[n / 2]));
            case "block-count-0" -> m.put(arch + ".block_count", new IntegerValue(ValueType.UINT32, 0));
            case "block-count-1000" -> m.put(arch + ".block_count", new IntegerValue(ValueType.UINT32, 1000));
            case "block-count-string" -> m.put(arch + ".block_count", new StringValue("2"));
            case "kv-heads-3" -> m.put(arch + ".attention.head_count_kv", new IntegerValue(ValueType.UINT32, 3));
            case "head-count-array-long" -> m.put(arch + ".attention.head_count", new IntegerArray(ValueType.UINT32, new long[1000]));
            case "experts-2000" -> m.put(arch + ".expert_count", new IntegerValue(ValueType.UINT32, 2000));
            case "experts-used-no-experts" -> m.put(arch + ".expert_used_count", new IntegerValue(ValueType.UINT32, 2));
            case "rope-scaling-bogus" -> m.put(arch + ".rope.scaling.type", new StringValue("bogus"));
            case "arch-mamba" -> m.put("general.architecture", new StringValue("mamba"));
            case "arch-rwkv6" -> m.put("general.architecture", new StringValue("rwkv6"));
            case "arch-missing" -> m.remove("general.architecture");
            case "arch-llama-keys-qwen2" -> m.put("general.architecture", new StringValue(arch.equals("llama") ? "qwen2" : "llama"));
            case "tokenizer-bogus" -> m.put("tokenizer.ggml.model", new StringValue("bogus"));
            case "tokenizer-model-int" -> m.put("tokenizer.ggml.model", new IntegerValue(ValueType.UINT32, 2));
            case "merges-missing" -> m.remove("tokenizer.ggml.merges");
            case "context-0" -> m.put(arch + ".context_length", new IntegerValue(ValueType.UINT32, 0));
            case "embedding-0" -> m.put(arch + ".embedding_length", new IntegerValue(ValueType.UINT32, 0));
            case "huge-token" -> {
                tokens.set(n - 1, "x".repeat(70_000));
                m.put("tokenizer.ggml.tokens", new StringArray(tokens));
            }
            case "alignment-3" -> m.put(GgufFile.ALIGNMENT_KEY, new IntegerValue(ValueType.UINT32, 3));
            case "nextn-5" -> m.put(arch + ".nextn_predict_layers", new IntegerValue(ValueType.UINT32, 5));
            case "bos-required-missing" -> {
                m.put("tokenizer.ggml.add_bos_token", new BoolValue(true));
                m.put("tokenizer.ggml.bos_token_id", new IntegerValue(ValueType.UINT32, n + 5));
                m.put("tokenizer.ggml.model", new StringValue("gpt2"));
                // the gpt2 default BOS (11) must not exist either
                List<String> few = new ArrayList<>(tokens.subList(0, Math.min(n, 11)));
                m.put("tokenizer.ggml.tokens", new StringArray(few));
                m.remove("tokenizer.ggml.token_type");
                m.remove("tokenizer.ggml.scores");
            }
            case "add-bos-int" -> m.put("tokenizer.ggml.add_bos_token", new IntegerValue(ValueType.UINT8, 1));
            default -> throw new IllegalArgumentException(what);
        }
        rewrite(m, out);
        return "semantic " + what;
    }

    /** The base's metadata changed by {@code edit}, with the base's tensors, written to {@code out}. */
    void edited(Consumer<Map<String, Value>> edit, Path out) throws IOException {
        Map<String, Value> m = new LinkedHashMap<>(gguf.metadata());
        edit.accept(m);
        rewrite(m, out);
    }

    /** Writes {@code metadata} with the base's tensors (their data copied through). */
    private void rewrite(Map<String, Value> metadata, Path out) throws IOException {
        GgufWriter w = new GgufWriter();
        metadata.forEach((k, v) -> {
            if (!k.equals(GgufFile.ALIGNMENT_KEY) || v instanceof IntegerValue iv && iv.value() == 32) {
                w.put(k, v);
            }
        });
        for (TensorInfo t : gguf.tensors()) {
            GgufFile.TensorType type = t.type().orElseThrow();
            long count = t.elementCount();
            long at = gguf.dataOffset() + t.offset();
            w.addTensor(t.name(), type, t.shape(), sink -> {
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
                for (long e = 0; e < count; e++) {
                    int p = (int) (at + e * type.bytesPerElement());
                    sink.put(type == GgufFile.TensorType.F32 ? b.getFloat(p) : Float.float16ToFloat(b.getShort(p)));
                }
            });
        }
        w.write(out);
        if (metadata.get(GgufFile.ALIGNMENT_KEY) instanceof IntegerValue iv && iv.value() != 32) {
            // GgufWriter only writes valid files: splice the bad alignment in by hand (as a u32 key appended last
            // would move everything, rewrite the existing general.alignment value or fail the forgery)
            patchAlignment(out, iv.value());
        }
    }

    private static void patchAlignment(Path out, long value) throws IOException {
        byte[] b = Files.readAllBytes(out);
        byte[] key = GgufFile.ALIGNMENT_KEY.getBytes(StandardCharsets.US_ASCII);
        int at = indexOf(b, key, 0);
        if (at < 0) {
            // no alignment key written: forge the KV count instead, the file stays corrupt either way
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(16, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(16) + 1);
        } else {
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at + key.length + 4, (int) value);
        }
        Files.write(out, b);
    }

    String forged(String what, Path out) throws IOException {
        byte[] b = bytes.clone();
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        // the info record of a 2-D weight: name (u64 length + bytes), n_dims u32, dims u64 x n, type u32, offset u64
        TensorInfo matrix = gguf.tensors().stream().filter(t -> t.shape().length == 2).skip(1).findFirst().orElseThrow();
        TensorInfo vector = gguf.tensors().stream().filter(t -> t.shape().length == 1).findFirst().orElseThrow();
        int info = tensorInfoAt(matrix.name());
        int dims = info + 8 + matrix.name().length() + 4;
        int type = dims + 8 * matrix.shape().length;
        int offset = type + 4;
        switch (what) {
            case "tensor-type-i32" -> buf.putInt(type, 26);
            case "tensor-type-q4_0" -> buf.putInt(type, 2);
            case "tensor-type-99" -> buf.putInt(type, 99);
            case "tensor-type-43" -> buf.putInt(type, 43); // one past the last known ggml type
            case "tensor-type-removed" -> buf.putInt(type, 4);
            case "tensor-dim-0" -> buf.putLong(dims, 0);
            case "tensor-dim-huge" -> buf.putLong(dims + 8, 1L << 40);
            case "tensor-dim-double" -> buf.putLong(dims + 8, matrix.shape()[1] * 2);
            case "tensor-offset-plus-32" -> buf.putLong(offset, matrix.offset() + 32);
            case "tensor-offset-huge" -> buf.putLong(offset, 1L << 50);
            case "tensor-ndims-5" -> buf.putInt(dims - 4, 5);
            case "tensor-name-length-huge" -> buf.putLong(info, 1L << 40);
            case "tensor-count-huge" -> buf.putLong(8, 1L << 40);
            case "tensor-count-minus-1" -> buf.putLong(8, gguf.tensors().size() - 1);
            case "kv-count-huge" -> buf.putLong(16, 1L << 40);
            case "kv-count-minus-1" -> buf.putLong(16, gguf.metadata().size() - 1);
            case "version-1" -> buf.putInt(4, 1);
            case "version-4" -> buf.putInt(4, 4);
            case "magic" -> b[0] = 'X';
            case "tensor-vector-q8" -> {
                int v = tensorInfoAt(vector.name());
                buf.putInt(v + 8 + vector.name().length() + 4 + 8, 8);
            }
            default -> throw new IllegalArgumentException(what);
        }
        Files.write(out, b);
        return "forged " + what;
    }

    private int tensorInfoAt(String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        // the info section follows the metadata: search from the back of the header for "<u64 len><name><u32 n_dims>"
        int from = 0;
        int at;
        while ((at = indexOf(bytes, n, from)) >= 0) {
            if (at >= 8 && ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(at - 8) == n.length) {
                int ndims = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(at + n.length);
                if (ndims >= 1 && ndims <= 4 && at + n.length + 4 + 8L * ndims + 12 <= gguf.dataOffset()) {
                    return at - 8;
                }
            }
            from = at + 1;
        }
        throw new IllegalStateException("tensor info of " + name + " not found");
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** What became of one mutant. */
    enum Outcome { REFUSED, LOADED_AND_SCORED, LOADED_SCORING_REFUSED }

    /**
     * Loads a mutant: a {@link ModelLoadException}, or a model whose fused statistics equal the
     * float64 reference on its own logits (or a typed refusal to score, e.g. NaN logits).
     */
    static Outcome check(Path file, Consumer<String> refusal) {
        Model m;
        try {
            m = Model.load(file);
        } catch (ModelLoadException e) {
            refusal.accept(e.getMessage());
            return Outcome.REFUSED;
        }
        try (m; Engine e = m.newEngine(EngineOptions.defaults().withContextSize(64).withThreads(1))) {
            int[] ids;
            try {
                ids = m.tokenize("Once upon a time, there was a little fox.", true, false);
            } catch (PanscoreException ex) {
                return Outcome.LOADED_SCORING_REFUSED;
            }
            if (ids.length < 2) {
                return Outcome.LOADED_SCORING_REFUSED;
            }
            Sequence seq = Sequence.of(ids);
            TokenScores got;
            float[] logits;
            try {
                got = e.score(List.of(seq), ScoreOptions.defaults()).getFirst();
                logits = e.logits(List.of(seq));
            } catch (PanscoreException ex) {
                return Outcome.LOADED_SCORING_REFUSED;
            }
            int vocab = m.info().vocabSize();
            for (int i = 0; i < got.size(); i++) {
                ReferenceKernel.Stats ref;
                try {
                    ref = ReferenceKernel.stats(logits, i * vocab, vocab, ids[i + 1], 1.0, 0);
                } catch (PanscoreException ex) {
                    return Outcome.LOADED_SCORING_REFUSED;
                }
                if (Math.abs(ref.logprob() - got.logprob()[i]) > 1e-3 * Math.max(1, Math.abs(ref.logprob()))
                        || Math.abs(ref.entropy() - got.entropy()[i]) > 1e-3 * Math.max(1, ref.entropy()) || ref.rank() != got.rank()[i]) {
                    throw new AssertionError(file + ": position " + i + " scored " + got.logprob()[i] + "/" + got.entropy()[i] + "/" + got.rank()[i]
                            + " but the reference says " + ref.logprob() + "/" + ref.entropy() + "/" + ref.rank());
                }
            }
            return Outcome.LOADED_AND_SCORED;
        }
    }

    Path base() {
        return base;
    }

    static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }
}
