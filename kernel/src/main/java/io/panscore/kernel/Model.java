package io.panscore.kernel;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_chat_message;
import io.panscore.bindings.ps_model_info;
import io.panscore.bindings.ps_model_params;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import io.panscore.kernel.fixture.GgufFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A GGUF model loaded by llama.cpp: weights, vocabulary and metadata.
 *
 * <p>Thread-safe: a model is immutable once loaded; tokenization and metadata may be called from
 * any thread, and many {@link Engine}s on many threads may share one model. {@link #close()} frees
 * the weights; it refuses while engines created from this model are still open, so an engine can
 * never run on freed weights. Closing twice is a no-op.
 */
public final class Model implements AutoCloseable {

    private final Lifecycle lifecycle;
    private final ModelInfo info;
    private final Path path;

    private Model(MemorySegment handle, ModelInfo info, Path path) {
        this.lifecycle = new Lifecycle("model " + path, handle, panscore_h::ps_model_free);
        this.info = info;
        this.path = path;
    }

    /** Loads a model with default options (CPU, mmap). */
    public static Model load(Path path) {
        return load(path, ModelOptions.defaults());
    }

    /**
     * Loads a GGUF model.
     *
     * @throws ModelLoadException when the file is missing, unreadable, not GGUF or not loadable
     */
    public static Model load(Path path, ModelOptions options) {
        NativeCalls.ensureLoaded();
        if (java.nio.file.Files.isRegularFile(path) && setting("panscore.gguf.validate", "PANSCORE_GGUF_VALIDATE", "true").equals("true")) {
            GgufValidator.validate(path); // a corrupt file is refused here, before llama.cpp could abort the JVM on it
        }
        if (setting("panscore.load.isolate", "PANSCORE_LOAD_ISOLATE", "false").equals("true")) {
            LoadProbe.requireLoadsInChild(path, options);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = ps_model_params.allocate(arena);
            ps_model_params.n_gpu_layers(params, options.gpuLayers());
            ps_model_params.main_gpu(params, options.mainGpu());
            ps_model_params.use_mmap(params, options.useMmap() ? 1 : 0);
            ps_model_params.check_tensors(params, options.checkTensors() ? 1 : 0);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            checkIsFile(path);
            int status = panscore_h.ps_model_load(arena.allocateFrom(path.toString()), params, out);
            if (status != panscore_h.PS_OK()) {
                throw explainLoadFailure(path, NativeCalls.exceptionFor(status, "loading " + path + ": " + NativeCalls.lastError()));
            }
            MemorySegment handle = out.get(ValueLayout.ADDRESS, 0);
            try {
                return new Model(handle, readInfo(arena, handle), path);
            } catch (RuntimeException e) {
                panscore_h.ps_model_free(handle);
                throw e;
            }
        }
    }

    /** A directory is not a model: say so (llama.cpp would call it "not a GGUF file"), naming the GGUF files inside. */
    private static void checkIsFile(Path path) {
        if (!Files.isDirectory(path)) {
            return;
        }
        List<String> ggufs = List.of();
        try (var files = Files.list(path)) {
            ggufs = files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".gguf")).sorted().limit(5).toList();
        } catch (IOException | UncheckedIOException e) {
            // unlistable: name none
        }
        throw new ModelLoadException(panscore_h.PS_ERR_FILE_NOT_FOUND(), "'" + path + "' is a directory, not a model file: give the path of a .gguf file"
                + (ggufs.isEmpty() ? " (there is none directly in it)" : ", e.g. " + path.resolve(ggufs.getFirst()) + " (it holds " + String.join(", ", ggufs) + ")"));
    }

    /**
     * llama.cpp's own reason for a failed load is often just "failed to load model": when the file
     * is a GGUF file, read its header and tensor table to say what is wrong (a truncated download, a
     * damaged header); otherwise keep llama.cpp's message.
     */
    private static PanscoreException explainLoadFailure(Path path, PanscoreException e) {
        if (!(e instanceof ModelLoadException) || e.status() != panscore_h.PS_ERR_MODEL_FORMAT() || !Files.isRegularFile(path)) {
            return e;
        }
        try {
            GgufFile.read(path);
        } catch (GgufFile.FormatException f) {
            String why = f.getMessage();
            boolean truncated = why.contains("truncated") || why.contains("end of") || why.contains("remain");
            return new ModelLoadException(e.status(), "cannot load " + path + ": " + (truncated ? "the file is truncated (incomplete download or copy?): " : "the file is damaged: ")
                    + why + " (" + e.getMessage() + ")");
        } catch (IOException | RuntimeException other) {
            return e;
        }
        return e;
    }

    /** A setting from a system property, else an environment variable, else the default (lower case). */
    static String setting(String property, String env, String otherwise) {
        String v = System.getProperty(property);
        if (v == null) {
            v = System.getenv(env);
        }
        if (v == null || v.isBlank()) {
            return otherwise;
        }
        v = v.trim().toLowerCase(java.util.Locale.ROOT);
        return v.equals("1") || v.equals("yes") || v.equals("on") ? "true" : v.equals("0") || v.equals("no") || v.equals("off") ? "false" : v;
    }

    private static ModelInfo readInfo(Arena arena, MemorySegment handle) {
        MemorySegment s = ps_model_info.allocate(arena);
        NativeCalls.check(panscore_h.ps_model_info_get(handle, s), "reading model info");
        return new ModelInfo(ps_model_info.n_vocab(s), ps_model_info.n_ctx_train(s), ps_model_info.n_embd(s),
                ps_model_info.n_layer(s), ps_model_info.bos_id(s), ps_model_info.eos_id(s), ps_model_info.eot_id(s),
                ps_model_info.add_bos(s) != 0, ps_model_info.n_params(s), ps_model_info.size_bytes(s),
                meta(handle, "general.architecture").orElse(""), meta(handle, "general.name").orElse(""));
    }

    public ModelInfo info() {
        return info;
    }

    public Path path() {
        return path;
    }

    /** A metadata value from the GGUF file, e.g. "tokenizer.chat_template". */
    public Optional<String> metadata(String key) {
        try (var use = lifecycle.use()) {
            return meta(use.handle(), key);
        }
    }

    private static Optional<String> meta(MemorySegment handle, String key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocateFrom(key);
            MemorySegment len = arena.allocate(ValueLayout.JAVA_LONG);
            int status = panscore_h.ps_model_meta(handle, k, MemorySegment.NULL, 0, len);
            long n = len.get(ValueLayout.JAVA_LONG, 0);
            if (n < 0) {
                return Optional.empty();
            }
            if (status != panscore_h.PS_OK() && status != panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
                NativeCalls.check(status, "reading metadata " + key);
            }
            MemorySegment buf = arena.allocate(n + 1);
            NativeCalls.check(panscore_h.ps_model_meta(handle, k, buf, n + 1, len), "reading metadata " + key);
            return Optional.of(buf.getString(0, StandardCharsets.UTF_8));
        }
    }

    /** The chat template stored in the model, if any. */
    public Optional<String> chatTemplate() {
        return metadata("tokenizer.chat_template");
    }

    /**
     * Tokenizes UTF-8 text.
     *
     * @param addSpecial   prepend BOS (and append EOS) where the model's tokenizer asks for it
     * @param parseSpecial treat the text of special tokens (e.g. "&lt;|im_end|&gt;") as those tokens
     */
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(Math.max(1, utf8.length));
            MemorySegment.copy(utf8, 0, bytes, ValueLayout.JAVA_BYTE, 0, utf8.length);
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            // a token covers at least one byte; +2 leaves room for BOS/EOS
            int capacity = utf8.length + 2;
            MemorySegment tokens = arena.allocate(ValueLayout.JAVA_INT, capacity);
            int status = panscore_h.ps_tokenize(use.handle(), bytes, utf8.length, addSpecial ? 1 : 0,
                    parseSpecial ? 1 : 0, tokens, capacity, count);
            if (status == panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
                capacity = count.get(ValueLayout.JAVA_INT, 0);
                tokens = arena.allocate(ValueLayout.JAVA_INT, capacity);
                status = panscore_h.ps_tokenize(use.handle(), bytes, utf8.length, addSpecial ? 1 : 0,
                        parseSpecial ? 1 : 0, tokens, capacity, count);
            }
            NativeCalls.check(status, "tokenizing");
            return tokens.asSlice(0, (long) count.get(ValueLayout.JAVA_INT, 0) * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
        }
    }

    /** Renders token ids back to text; {@code renderSpecial} includes special tokens' text. */
    public String detokenize(int[] tokens, boolean renderSpecial) {
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment ids = arena.allocateFrom(ValueLayout.JAVA_INT, tokens);
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            int capacity = tokens.length * 8 + 16;
            MemorySegment buf = arena.allocate(capacity);
            int status = panscore_h.ps_detokenize(use.handle(), ids, tokens.length, renderSpecial ? 1 : 0, buf, capacity, len);
            if (status == panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
                capacity = len.get(ValueLayout.JAVA_INT, 0);
                buf = arena.allocate(capacity);
                status = panscore_h.ps_detokenize(use.handle(), ids, tokens.length, renderSpecial ? 1 : 0, buf, capacity, len);
            }
            NativeCalls.check(status, "detokenizing");
            return new String(buf.asSlice(0, len.get(ValueLayout.JAVA_INT, 0)).toArray(ValueLayout.JAVA_BYTE),
                    StandardCharsets.UTF_8);
        }
    }

    /**
     * Renders chat messages with a chat template, as llama.cpp's pattern renderer does (it
     * recognises the common templates by pattern; see {@link #renderChatJinja} for a real Jinja
     * rendering).
     *
     * @param template     null for the model's own template, else a template string or a built-in
     *                     name such as "chatml" or "llama3"
     * @param addAssistant end with the opening of an assistant turn (for a prompt)
     * @throws InvalidInputException when the template is missing or not recognised
     */
    public String renderChat(List<ChatMessage> messages, String template, boolean addAssistant) {
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment msgs = ps_chat_message.allocateArray(Math.max(1, messages.size()), arena);
            for (int i = 0; i < messages.size(); i++) {
                MemorySegment m = ps_chat_message.asSlice(msgs, i);
                ps_chat_message.role(m, arena.allocateFrom(messages.get(i).role()));
                ps_chat_message.content(m, arena.allocateFrom(messages.get(i).content()));
            }
            MemorySegment tmpl = template == null ? MemorySegment.NULL : arena.allocateFrom(template);
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            int capacity = 256;
            for (ChatMessage m : messages) {
                capacity += 2 * (m.role().length() + m.content().length()) + 64;
            }
            MemorySegment buf = arena.allocate(capacity);
            int status = panscore_h.ps_chat_render(use.handle(), tmpl, msgs, messages.size(), addAssistant ? 1 : 0, buf, capacity, len);
            if (status == panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
                capacity = len.get(ValueLayout.JAVA_INT, 0);
                buf = arena.allocate(capacity);
                status = panscore_h.ps_chat_render(use.handle(), tmpl, msgs, messages.size(), addAssistant ? 1 : 0, buf, capacity, len);
            }
            NativeCalls.check(status, "rendering a chat");
            return new String(buf.asSlice(0, len.get(ValueLayout.JAVA_INT, 0)).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    /**
     * Renders chat messages with a Jinja chat template through llama.cpp's Jinja engine, the way
     * Hugging Face's {@code apply_chat_template} does (what the released code of RSR, the implicit
     * PRM and GlimpRouter renders with): the template sees {@code messages}, this model's
     * {@code bos_token} and {@code eos_token} and {@code add_generation_prompt}; messages are passed
     * as they are.
     *
     * @param template            null for the model's own {@code tokenizer.chat_template}, else Jinja source
     * @param addGenerationPrompt end with the opening of an assistant turn
     * @param continueFinal       leave the last message open to be continued (HF's
     *                            {@code continue_final_message}); excludes addGenerationPrompt
     * @throws InvalidInputException when the model has no template, the template fails or raises,
     *                               or both flags are set
     */
    public String renderChatJinja(List<ChatMessage> messages, String template, boolean addGenerationPrompt, boolean continueFinal) {
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment msgs = ps_chat_message.allocateArray(Math.max(1, messages.size()), arena);
            long capacity = 1024;
            for (int i = 0; i < messages.size(); i++) {
                MemorySegment m = ps_chat_message.asSlice(msgs, i);
                ps_chat_message.role(m, arena.allocateFrom(messages.get(i).role()));
                ps_chat_message.content(m, arena.allocateFrom(messages.get(i).content()));
                capacity += 3L * (messages.get(i).role().length() + messages.get(i).content().length()) + 128;
            }
            MemorySegment tmpl = template == null ? MemorySegment.NULL : arena.allocateFrom(template);
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            int cap = (int) Math.min(capacity, Integer.MAX_VALUE - 8);
            MemorySegment buf = arena.allocate(cap);
            int gen = addGenerationPrompt ? 1 : 0;
            int cont = continueFinal ? 1 : 0;
            int status = panscore_h.ps_chat_render_jinja(use.handle(), tmpl, msgs, messages.size(), gen, cont, buf, cap, len);
            if (status == panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
                cap = len.get(ValueLayout.JAVA_INT, 0);
                buf = arena.allocate(cap);
                status = panscore_h.ps_chat_render_jinja(use.handle(), tmpl, msgs, messages.size(), gen, cont, buf, cap, len);
            }
            NativeCalls.check(status, "rendering a chat template");
            return new String(buf.asSlice(0, len.get(ValueLayout.JAVA_INT, 0)).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    /**
     * The UTF-8 byte length of each token's share of the text it was tokenized from (special
     * tokens render as nothing), for mapping tokens back to byte ranges of that text: each token's
     * piece, except that the first token loses the space a SentencePiece tokenizer adds in front of
     * the text (as {@link #detokenize} does). Pieces of multi-byte characters keep their exact byte
     * counts, which decoding them to a String would lose.
     */
    public int[] pieceByteLengths(int[] tokens) {
        int[] out = new int[tokens.length];
        if (tokens.length == 0) {
            return out;
        }
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment[] buf = {arena.allocate(256)};
            // the first token as a one-token detokenization (which drops an added space prefix)
            id.set(ValueLayout.JAVA_INT, 0, tokens[0]);
            int status = panscore_h.ps_detokenize(use.handle(), id, 1, 0, buf[0], (int) buf[0].byteSize(), len);
            if (status == panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
                buf[0] = arena.allocate(len.get(ValueLayout.JAVA_INT, 0));
                status = panscore_h.ps_detokenize(use.handle(), id, 1, 0, buf[0], (int) buf[0].byteSize(), len);
            }
            NativeCalls.check(status, "rendering token " + tokens[0]);
            out[0] = len.get(ValueLayout.JAVA_INT, 0);
            for (int i = 1; i < tokens.length; i++) {
                out[i] = piece(use.handle(), arena, tokens[i], false, buf, len);
            }
            return out;
        }
    }

    /**
     * The exact text piece of one token, special tokens included: a SentencePiece token
     * "\u2581w" is " w", a lone "\u2581" is " ". The pieces of a tokenization concatenate to the
     * tokenized text, with a leading space where a SentencePiece tokenizer added one (its
     * {@code add_space_prefix}); a byte-level BPE tokenizer (Qwen, Llama 3) adds none. A piece that
     * is part of a multi-byte character decodes to U+FFFD.
     */
    public String tokenText(int token) {
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment[] buf = {arena.allocate(64)};
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            int n = piece(use.handle(), arena, token, true, buf, len);
            return new String(buf[0].asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    /**
     * The exact UTF-8 bytes of one token's piece (what {@link #tokenText} decodes; a piece may be
     * part of a multi-byte character). {@code special}: include special tokens' text.
     */
    byte[] pieceBytes(int token, boolean special) {
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment[] buf = {arena.allocate(64)};
            MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
            int n = piece(use.handle(), arena, token, special, buf, len);
            return buf[0].asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** One token's piece into buf[0] (grown when too small); returns its byte count. */
    private static int piece(MemorySegment handle, Arena arena, int token, boolean special, MemorySegment[] buf, MemorySegment len) {
        int status = panscore_h.ps_token_piece(handle, token, special ? 1 : 0, buf[0], (int) buf[0].byteSize(), len);
        if (status == panscore_h.PS_ERR_BUFFER_TOO_SMALL()) {
            buf[0] = arena.allocate(Math.max(2 * buf[0].byteSize(), len.get(ValueLayout.JAVA_INT, 0)));
            status = panscore_h.ps_token_piece(handle, token, special ? 1 : 0, buf[0], (int) buf[0].byteSize(), len);
        }
        NativeCalls.check(status, "rendering token " + token);
        return len.get(ValueLayout.JAVA_INT, 0);
    }

    /** Opens an engine on this model; the model cannot be closed until the engine is. */
    public Engine newEngine(EngineOptions options) {
        return Engine.create(this, options);
    }

    Lifecycle lifecycle() {
        return lifecycle;
    }

    /** Frees the weights. Refuses (with {@link PanscoreException}) while engines on this model are open. */
    @Override
    public void close() {
        lifecycle.close();
    }

    public boolean isClosed() {
        return lifecycle.isClosed();
    }

    @Override
    public String toString() {
        return "Model[" + path + ", " + info.architecture() + ", vocab " + info.vocabSize() + "]";
    }
}
