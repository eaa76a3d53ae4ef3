package io.panscore.api.server.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.api.server.Exchange;
import io.panscore.api.server.HttpException;
import io.panscore.api.server.Protocol;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.GenerateOptions;
import io.panscore.kernel.GeneratedToken;
import io.panscore.kernel.Generation;
import io.panscore.kernel.Generator;
import io.panscore.kernel.Model;
import io.panscore.kernel.SamplingOptions;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.SessionPool;
import io.panscore.kernel.TokenScores;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The OpenAI-compatible HTTP API (the shapes of OpenAI's and vLLM's servers), over panscore's
 * scoring engine and {@link Generator}:
 * <pre>
 * POST /v1/completions        prompt (string | [string] | [ids] | [[ids]]), echo, logprobs, max_tokens >= 0,
 *                             temperature, top_p, top_k, min_p, seed, stop, n = 1, stream, prompt_logprobs (vLLM)
 * POST /v1/chat/completions   messages, logprobs, top_logprobs, max_tokens | max_completion_tokens, sampling, stop,
 *                             stream, add_generation_prompt, continue_final_message, chat_template (vLLM)
 * GET  /v1/models
 * POST /tokenize, /detokenize; GET /tokenizer_info (also under /v1/)
 * </pre>
 * Prompt log-probs (echo, {@code prompt_logprobs}) come from the scoring engine: the same numbers as
 * {@code panscore cli score}. Generated tokens carry the statistics the generator computed for them
 * on the unmodified distribution (temperature 1). panscore's extras (entropy and rank per token)
 * are in each choice's {@code "panscore"} field, which standard clients ignore. Every error is
 * OpenAI's {@code {"error": {"message", "type", "param", "code"}}}.
 *
 * <p>Thread-safety: requests run on the server's threads; scoring calls are serialized on the one
 * scoring engine, generations are batched by the generator.
 */
public final class OpenAiProtocol implements Protocol {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Model model;
    private final OpenAiOptions options;
    private final Engine scorer;
    private final SessionPool pool;
    private final Generator generator;
    private final String[] pieces;
    private final long created = System.currentTimeMillis() / 1000;

    /** Opens a scoring engine and a generation pool on {@code model} (which must outlive this). */
    public OpenAiProtocol(Model model, OpenAiOptions options) {
        this.model = model;
        this.options = options;
        this.pieces = new String[model.info().vocabSize()];
        this.scorer = model.newEngine(EngineOptions.defaults().withContextSize(options.scoreContext()).withThreads(options.threads()));
        SessionPool p = null;
        try {
            p = new SessionPool(model, EngineOptions.defaults().withContextSize(options.generationContext()).withMaxSequences(options.maxGenerations())
                    .withThreads(options.threads()), 0);
            this.pool = p;
            this.generator = new Generator(p);
        } catch (RuntimeException e) {
            if (p != null) {
                p.close();
            }
            scorer.close();
            throw e;
        }
    }

    public OpenAiOptions options() {
        return options;
    }

    @Override
    public void close() {
        generator.close();
        pool.close();
        scorer.close();
    }

    private static final List<String> PATHS = List.of("/v1/completions", "/v1/chat/completions", "/v1/models", "/tokenize", "/detokenize",
            "/tokenizer_info", "/v1/tokenize", "/v1/detokenize", "/v1/tokenizer_info");

    @Override
    public boolean serves(String path) {
        return PATHS.contains(path) || path.startsWith("/v1/models/") || path.startsWith("/v1/chat/") || path.startsWith("/v1/completions/");
    }

    @Override
    public String endpointOf(String path) {
        if (PATHS.contains(path)) {
            return path.startsWith("/v1/") ? path : "/v1" + path;
        }
        return path.startsWith("/v1/models/") ? "/v1/models/{id}" : "other";
    }

    @Override
    public String errorBody(int status, String message, String type, String param) {
        ObjectNode e = JSON.createObjectNode();
        e.put("message", message);
        e.put("type", switch (status) {
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 429 -> "rate_limit_error";
            default -> status >= 500 ? "server_error" : "invalid_request_error";
        });
        if (param == null) {
            e.putNull("param");
        } else {
            e.put("param", param);
        }
        e.put("code", status == 404 && "model".equals(param) ? "model_not_found" : type);
        ObjectNode n = JSON.createObjectNode();
        n.set("error", e);
        return n.toString();
    }

    @Override
    public Object handle(Exchange x) throws IOException {
        String path = x.path().startsWith("/v1/") ? x.path().substring(3) : x.path();
        return switch (path) {
            case "/completions" -> {
                x.requireMethod("POST");
                yield completions(x, x.json());
            }
            case "/chat/completions" -> {
                x.requireMethod("POST");
                yield chat(x, x.json());
            }
            case "/models" -> {
                x.requireMethod("GET");
                ObjectNode list = JSON.createObjectNode();
                list.put("object", "list");
                list.putArray("data").add(modelCard());
                yield list;
            }
            case "/tokenize" -> {
                x.requireMethod("POST");
                yield tokenize(x, x.json());
            }
            case "/detokenize" -> {
                x.requireMethod("POST");
                JsonNode b = x.json();
                checkModel(b);
                int[] t = ids(b.get("tokens"), "tokens", x);
                ObjectNode n = JSON.createObjectNode();
                n.put("prompt", detokenize(t));
                yield n;
            }
            case "/tokenizer_info" -> {
                x.requireMethod("GET");
                yield tokenizerInfo();
            }
            default -> {
                if (path.startsWith("/models/")) {
                    x.requireMethod("GET");
                    String id = path.substring("/models/".length());
                    if (!id.equals(options.modelName())) {
                        throw new HttpException(404, "the model \"" + clip(id) + "\" does not exist; this server serves \"" + options.modelName() + "\"", "model");
                    }
                    yield modelCard();
                }
                throw new HttpException(404, "no such endpoint: " + clip(x.path()));
            }
        };
    }

    // ---- /v1/completions ----------------------------------------------------------------------

    /** A prompt: its tokens, and its text when it was given as text. */
    private record Prompt(int[] tokens, String text) {}

    private Object completions(Exchange x, JsonNode b) throws IOException {
        checkModel(b);
        checkN(b);
        List<Prompt> prompts = prompts(b.get("prompt"), bool(b, "add_special_tokens", options.addSpecialTokens()), x);
        boolean echo = bool(b, "echo", false);
        Integer logprobs = optInt(b, "logprobs", 0, options.maxTopLogprobs());
        Integer promptLogprobs = optInt(b, "prompt_logprobs", 0, options.maxTopLogprobs());
        int maxTokens = intParam(b, "max_tokens", 16, 0, Integer.MAX_VALUE);
        SamplingOptions sampling = sampling(b);
        List<String> stop = stop(b);
        boolean stream = bool(b, "stream", false);
        String id = "cmpl-" + randomId();
        if (stream) {
            if (prompts.size() != 1) {
                throw new HttpException(400, "stream needs exactly one prompt, got " + prompts.size(), "prompt");
            }
            streamCompletion(x, id, prompts.getFirst(), echo, logprobs, maxTokens, sampling, stop);
            return Exchange.STREAMED;
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("id", id);
        out.put("object", "text_completion");
        out.put("created", System.currentTimeMillis() / 1000);
        out.put("model", options.modelName());
        ArrayNode choices = out.putArray("choices");
        int promptTokens = 0;
        int completionTokens = 0;
        for (int i = 0; i < prompts.size(); i++) {
            Prompt p = prompts.get(i);
            int[] toks = p.tokens();
            int k = Math.max(logprobs == null ? 0 : logprobs, promptLogprobs == null ? 0 : promptLogprobs);
            TokenScores scores = (echo && logprobs != null) || promptLogprobs != null ? scorePrompt(toks, k) : null;
            Generation g = maxTokens > 0 ? generate(toks, generateOptions(toks, maxTokens, sampling, stop, logprobs == null ? 0 : logprobs), null) : null;
            String promptText = p.text() != null ? p.text() : detokenize(toks);
            String generated = g == null ? "" : g.text();
            ObjectNode c = choices.addObject();
            c.put("index", i);
            c.put("text", echo ? promptText + generated : generated);
            if (logprobs != null) {
                Legacy lp = new Legacy(logprobs);
                if (echo) {
                    lp.prompt(toks, scores, promptText);
                }
                if (g != null) {
                    lp.generated(g.tokens(), echo ? promptText.length() : 0, echo ? promptText.length() + generated.length() : generated.length());
                }
                c.set("logprobs", lp.json);
                c.set("panscore", lp.extras);
            } else {
                c.putNull("logprobs");
            }
            c.put("finish_reason", finishReason(g));
            if (promptLogprobs != null) {
                c.set("prompt_logprobs", vllmPromptLogprobs(toks, scores, promptLogprobs));
            }
            promptTokens += toks.length;
            completionTokens += g == null ? 0 : g.tokens().size();
        }
        out.set("usage", usage(promptTokens, completionTokens));
        return out;
    }

    private void streamCompletion(Exchange x, String id, Prompt p, boolean echo, Integer logprobs, int maxTokens, SamplingOptions sampling,
            List<String> stop) throws IOException {
        int[] toks = p.tokens();
        GenerateOptions go = maxTokens > 0 ? generateOptions(toks, maxTokens, sampling, stop, logprobs == null ? 0 : logprobs) : null;
        TokenScores scores = echo && logprobs != null ? scorePrompt(toks, logprobs) : null;
        String promptText = p.text() != null ? p.text() : detokenize(toks);
        int[] offset = {0};
        if (echo) {
            ObjectNode c = chunk(id, "text_completion");
            ObjectNode choice = ((ArrayNode) c.get("choices")).addObject();
            choice.put("index", 0);
            choice.put("text", promptText);
            if (logprobs != null) {
                Legacy lp = new Legacy(logprobs);
                lp.prompt(toks, scores, promptText);
                choice.set("logprobs", lp.json);
                choice.set("panscore", lp.extras);
            } else {
                choice.putNull("logprobs");
            }
            choice.putNull("finish_reason");
            x.sendEvent(c.toString());
            offset[0] = promptText.length();
        }
        Generation g = null;
        if (go != null) {
            g = streamGeneration(x, toks, go, (t, delta) -> {
                ObjectNode c = chunk(id, "text_completion");
                ObjectNode choice = ((ArrayNode) c.get("choices")).addObject();
                choice.put("index", 0);
                choice.put("text", delta);
                if (logprobs != null) {
                    Legacy lp = new Legacy(logprobs);
                    lp.generated(List.of(t), offset[0], Integer.MAX_VALUE);
                    choice.set("logprobs", lp.json);
                    choice.set("panscore", lp.extras);
                } else {
                    choice.putNull("logprobs");
                }
                choice.putNull("finish_reason");
                offset[0] += delta.length();
                return c;
            });
        }
        ObjectNode last = chunk(id, "text_completion");
        ObjectNode choice = ((ArrayNode) last.get("choices")).addObject();
        choice.put("index", 0);
        choice.put("text", "");
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason(g));
        last.set("usage", usage(toks.length, g == null ? 0 : g.tokens().size()));
        x.sendEvent(last.toString());
        x.sendEvent("[DONE]");
        x.endEvents();
    }

    /** One generated token as a stream chunk. */
    private interface ChunkMaker {
        ObjectNode make(GeneratedToken token, String delta);
    }

    private static final Object DONE = new Object();

    private record Step(GeneratedToken token, String delta) {}

    /**
     * Generates while streaming a chunk per token; a client that goes away cancels the generation
     * (its session is freed) and the IOException propagates.
     */
    private Generation streamGeneration(Exchange x, int[] toks, GenerateOptions go, ChunkMaker maker) throws IOException {
        SessionPool.Session s = pool.open(toks);
        Generator.Handle h = null;
        try {
            LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();
            h = generator.submit(s, go, (t, d) -> queue.add(new Step(t, d)));
            h.future().whenComplete((r, e) -> queue.add(DONE));
            while (true) {
                Object o;
                try {
                    o = queue.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while streaming", e);
                }
                if (o == DONE) {
                    break;
                }
                Step step = (Step) o;
                x.sendEvent(maker.make(step.token(), step.delta()).toString());
            }
            return h.await();
        } finally {
            if (h != null && !h.isDone()) {
                h.cancel();
                try {
                    h.await();
                } catch (RuntimeException ignored) {
                    // the client is gone; what matters is that the session is free
                }
            }
            pool.close(s);
        }
    }

    private TokenScores scorePrompt(int[] toks, int k) {
        if (toks.length < 2) {
            return null; // the first token has no distribution
        }
        if (toks.length > options.scoreContext()) {
            throw new HttpException(400, "the prompt has " + toks.length + " tokens, more than the scoring context of " + options.scoreContext()
                    + " (serve with a larger --openai-ctx)", "prompt");
        }
        return scorer.score(List.of(Sequence.of(toks)), ScoreOptions.defaults().withTopK(k)).getFirst();
    }

    private GenerateOptions generateOptions(int[] toks, int maxTokens, SamplingOptions sampling, List<String> stop, int topK) {
        int room = options.generationContext() - toks.length;
        if (room < 1) {
            throw new HttpException(400, "the prompt has " + toks.length + " tokens, which leaves no room to generate in the context of "
                    + options.generationContext() + " tokens", "prompt");
        }
        return new GenerateOptions(Math.min(maxTokens, room), sampling, stop, topK, true);
    }

    private Generation generate(int[] toks, GenerateOptions go, Generator.TokenListener listener) {
        SessionPool.Session s = pool.open(toks);
        try {
            return generator.submit(s, go, listener).await();
        } finally {
            pool.close(s);
        }
    }

    /** OpenAI's legacy logprobs object, and panscore's extras beside it. */
    private final class Legacy {
        final int k;
        final ObjectNode json = JSON.createObjectNode();
        final ArrayNode tokens = json.putArray("tokens");
        final ArrayNode tokenLogprobs = json.putArray("token_logprobs");
        final ArrayNode top = json.putArray("top_logprobs");
        final ArrayNode offsets = json.putArray("text_offset");
        final ObjectNode extras = JSON.createObjectNode();
        final ArrayNode entropy = extras.putArray("entropy");
        final ArrayNode rank = extras.putArray("rank");

        Legacy(int k) {
            this.k = k;
        }

        void prompt(int[] toks, TokenScores s, String text) {
            int[] off = promptOffsets(toks, text);
            for (int i = 0; i < toks.length; i++) {
                tokens.add(piece(toks[i]));
                offsets.add(off[i]);
                if (i == 0 || s == null) {
                    tokenLogprobs.addNull();
                    top.addNull();
                    entropy.addNull();
                    rank.addNull();
                    continue;
                }
                int j = i - 1;
                tokenLogprobs.add(s.logprob()[j]);
                ObjectNode t = top.addObject();
                for (int r = 0; r < k; r++) {
                    putMax(t, piece(s.topIds()[j * s.topK() + r]), s.topLogprobs()[j * s.topK() + r]);
                }
                putMax(t, piece(toks[i]), s.logprob()[j]);
                entropy.add(s.entropy()[j]);
                rank.add(s.rank()[j]);
            }
        }

        void generated(List<GeneratedToken> gen, int start, int end) {
            int at = start;
            for (GeneratedToken g : gen) {
                String piece = g.endOfGeneration() ? "" : piece(g.id());
                tokens.add(piece(g.id()));
                offsets.add(Math.min(at, end));
                at += piece.length();
                tokenLogprobs.add(g.logprob());
                ObjectNode t = top.addObject();
                for (int r = 0; r < Math.min(k, g.topIds().length); r++) {
                    putMax(t, piece(g.topIds()[r]), g.topLogprobs()[r]);
                }
                putMax(t, piece(g.id()), g.logprob());
                entropy.add(g.entropy());
                rank.add(g.rank());
            }
        }
    }

    /** Two tokens may share a piece text; the dictionary keeps the larger log-prob. */
    private static void putMax(ObjectNode t, String key, float lp) {
        JsonNode old = t.get(key);
        if (old == null || old.floatValue() < lp) {
            t.put(key, lp);
        }
    }

    /**
     * Where each prompt token starts in the prompt's text, in chars: the tokens' byte pieces
     * accumulated, shifted by the space a SentencePiece tokenizer adds in front (which the text
     * lacks), clamped to the text. Exact when the text is the detokenized prompt.
     */
    private int[] promptOffsets(int[] toks, String text) {
        int[] bytes = model.pieceByteLengths(toks);
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        long total = 0;
        for (int b : bytes) {
            total += b;
        }
        long shift = Math.max(0, total - utf8.length);
        int[] charAt = new int[utf8.length + 1]; // byte offset -> char offset
        int chars = 0;
        for (int i = 0; i < utf8.length; i++) {
            charAt[i] = chars;
            int u = utf8[i] & 0xff;
            if ((u & 0xC0) != 0x80) {
                chars += u >= 0xF0 ? 2 : 1; // a 4-byte character is two Java chars
            }
        }
        charAt[utf8.length] = text.length();
        int[] off = new int[toks.length];
        long at = 0;
        for (int i = 0; i < toks.length; i++) {
            long b = Math.min(utf8.length, Math.max(0, at - shift));
            off[i] = charAt[(int) b];
            at += bytes[i];
        }
        return off;
    }

    /** vLLM's prompt_logprobs: null for the first token, then {id: {logprob, rank, decoded_token}} with the prompt token and the top k. */
    private ArrayNode vllmPromptLogprobs(int[] toks, TokenScores s, int k) {
        ArrayNode out = JSON.createArrayNode();
        for (int i = 0; i < toks.length; i++) {
            if (i == 0 || s == null) {
                out.addNull();
                continue;
            }
            int j = i - 1;
            ObjectNode m = out.addObject();
            ObjectNode self = m.putObject(Integer.toString(toks[i]));
            self.put("logprob", s.logprob()[j]);
            self.put("rank", s.rank()[j]);
            self.put("decoded_token", piece(toks[i]));
            for (int r = 0; r < k; r++) {
                int id = s.topIds()[j * s.topK() + r];
                if (id == toks[i]) {
                    continue;
                }
                ObjectNode e = m.putObject(Integer.toString(id));
                e.put("logprob", s.topLogprobs()[j * s.topK() + r]);
                e.put("rank", r + 1);
                e.put("decoded_token", piece(id));
            }
        }
        return out;
    }

    // ---- /v1/chat/completions -----------------------------------------------------------------

    private int[] chatTokens(JsonNode b) {
        JsonNode ms = b.get("messages");
        if (ms == null || !ms.isArray() || ms.isEmpty()) {
            throw new HttpException(400, "\"messages\" must be a non-empty array of {\"role\", \"content\"}", "messages");
        }
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            if (!m.isObject() || !m.path("role").isTextual()) {
                throw new HttpException(400, "messages[" + i + "] needs a string \"role\"", "messages");
            }
            messages.add(new ChatMessage(m.get("role").asText(), content(m.get("content"), i)));
        }
        boolean cont = bool(b, "continue_final_message", false);
        boolean addGen = bool(b, "add_generation_prompt", !cont);
        if (cont && addGen) {
            throw new HttpException(400, "continue_final_message and add_generation_prompt cannot both be true", "add_generation_prompt");
        }
        String template = options.chatTemplate();
        if (b.hasNonNull("chat_template")) {
            if (!b.get("chat_template").isTextual()) {
                throw new HttpException(400, "\"chat_template\" must be a string (Jinja)", "chat_template");
            }
            template = b.get("chat_template").asText();
        }
        String text = model.renderChatJinja(messages, template, addGen, cont);
        int[] toks = model.tokenize(text, bool(b, "add_special_tokens", false), true);
        return checkedPrompt(toks, "messages", Integer.MAX_VALUE);
    }

    private static String content(JsonNode c, int i) {
        if (c == null || c.isNull()) {
            return "";
        }
        if (c.isTextual()) {
            return c.asText();
        }
        if (c.isArray()) { // [{"type": "text", "text": ...}, ...]
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.path("type").asText("").equals("text") || !part.path("text").isTextual()) {
                    throw new HttpException(400, "messages[" + i + "].content: only text parts ({\"type\": \"text\", \"text\": s}) are supported", "messages");
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw new HttpException(400, "messages[" + i + "].content must be a string or a list of text parts", "messages");
    }

    private Object chat(Exchange x, JsonNode b) throws IOException {
        checkModel(b);
        checkN(b);
        boolean logprobs = bool(b, "logprobs", false);
        Integer top = optInt(b, "top_logprobs", 0, options.maxTopLogprobs());
        int k = top == null ? 0 : top;
        Integer maxTokens = optInt(b, "max_completion_tokens", 0, Integer.MAX_VALUE);
        if (maxTokens == null) {
            maxTokens = optInt(b, "max_tokens", 0, Integer.MAX_VALUE);
        }
        SamplingOptions sampling = sampling(b);
        List<String> stop = stop(b);
        boolean stream = bool(b, "stream", false);
        int[] toks = chatTokens(b);
        if (toks.length > x.maxTokens()) {
            throw new HttpException(413, "the request has " + toks.length + " tokens, more than the limit of " + x.maxTokens(), "messages");
        }
        int max = maxTokens == null ? Integer.MAX_VALUE : maxTokens;
        String id = "chatcmpl-" + randomId();
        if (stream) {
            GenerateOptions go = max > 0 ? generateOptions(toks, max, sampling, stop, k) : null;
            ObjectNode first = chunk(id, "chat.completion.chunk");
            ObjectNode c0 = ((ArrayNode) first.get("choices")).addObject();
            c0.put("index", 0);
            c0.putObject("delta").put("role", "assistant").put("content", "");
            c0.putNull("logprobs");
            c0.putNull("finish_reason");
            x.sendEvent(first.toString());
            Generation g = go == null ? null : streamGeneration(x, toks, go, (t, delta) -> {
                ObjectNode c = chunk(id, "chat.completion.chunk");
                ObjectNode choice = ((ArrayNode) c.get("choices")).addObject();
                choice.put("index", 0);
                choice.putObject("delta").put("content", delta);
                if (logprobs) {
                    choice.putObject("logprobs").set("content", chatLogprobs(List.of(t), k));
                } else {
                    choice.putNull("logprobs");
                }
                choice.putNull("finish_reason");
                return c;
            });
            ObjectNode last = chunk(id, "chat.completion.chunk");
            ObjectNode cl = ((ArrayNode) last.get("choices")).addObject();
            cl.put("index", 0);
            cl.putObject("delta");
            cl.putNull("logprobs");
            cl.put("finish_reason", finishReason(g));
            last.set("usage", usage(toks.length, g == null ? 0 : g.tokens().size()));
            x.sendEvent(last.toString());
            x.sendEvent("[DONE]");
            x.endEvents();
            return Exchange.STREAMED;
        }
        Generation g = max > 0 ? generate(toks, generateOptions(toks, max, sampling, stop, k), null) : null;
        ObjectNode out = JSON.createObjectNode();
        out.put("id", id);
        out.put("object", "chat.completion");
        out.put("created", System.currentTimeMillis() / 1000);
        out.put("model", options.modelName());
        ObjectNode c = out.putArray("choices").addObject();
        c.put("index", 0);
        ObjectNode message = c.putObject("message");
        message.put("role", "assistant");
        message.put("content", g == null ? "" : g.text());
        if (logprobs) {
            c.putObject("logprobs").set("content", chatLogprobs(g == null ? List.of() : g.tokens(), k));
        } else {
            c.putNull("logprobs");
        }
        c.put("finish_reason", finishReason(g));
        ObjectNode extras = c.putObject("panscore");
        ArrayNode ent = extras.putArray("entropy");
        ArrayNode rk = extras.putArray("rank");
        if (g != null) {
            for (GeneratedToken t : g.tokens()) {
                ent.add(t.entropy());
                rk.add(t.rank());
            }
        }
        out.set("usage", usage(toks.length, g == null ? 0 : g.tokens().size()));
        return out;
    }

    private ArrayNode chatLogprobs(List<GeneratedToken> gen, int k) {
        ArrayNode content = JSON.createArrayNode();
        for (GeneratedToken t : gen) {
            ObjectNode e = content.addObject();
            tokenEntry(e, t.id(), t.logprob());
            ArrayNode tops = e.putArray("top_logprobs");
            for (int r = 0; r < Math.min(k, t.topIds().length); r++) {
                tokenEntry(tops.addObject(), t.topIds()[r], t.topLogprobs()[r]);
            }
        }
        return content;
    }

    private void tokenEntry(ObjectNode e, int id, float logprob) {
        String piece = piece(id);
        e.put("token", piece);
        e.put("logprob", logprob);
        ArrayNode bytes = e.putArray("bytes");
        for (byte by : piece.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(by & 0xff);
        }
    }

    // ---- tokenizer endpoints ------------------------------------------------------------------

    private Object tokenize(Exchange x, JsonNode b) {
        checkModel(b);
        int[] toks;
        if (b.has("messages")) {
            toks = chatTokens(b);
        } else if (b.path("prompt").isTextual()) {
            toks = model.tokenize(b.get("prompt").asText(), bool(b, "add_special_tokens", options.addSpecialTokens()), true);
        } else {
            throw new HttpException(400, "give \"prompt\" (a string) or \"messages\" (chat)", "prompt");
        }
        if (toks.length > x.maxTokens()) {
            throw new HttpException(413, "the request has " + toks.length + " tokens, more than the limit of " + x.maxTokens(), "prompt");
        }
        ObjectNode n = JSON.createObjectNode();
        n.put("count", toks.length);
        n.put("max_model_len", options.generationContext());
        ArrayNode t = n.putArray("tokens");
        for (int id : toks) {
            t.add(id);
        }
        if (bool(b, "return_token_strs", false)) {
            ArrayNode s = n.putArray("token_strs");
            for (int id : toks) {
                s.add(piece(id));
            }
        } else {
            n.putNull("token_strs");
        }
        return n;
    }

    private ObjectNode tokenizerInfo() {
        ObjectNode n = JSON.createObjectNode();
        var info = model.info();
        n.put("tokenizer_class", "panscore (llama.cpp, " + model.metadata("tokenizer.ggml.model").orElse("unknown") + ")");
        n.put("vocab_size", info.vocabSize());
        n.put("model_max_length", options.generationContext());
        n.put("add_bos_token", info.addsBos());
        putToken(n, "bos", info.bos());
        putToken(n, "eos", info.eos());
        model.chatTemplate().ifPresentOrElse(t -> n.put("chat_template", t), () -> n.putNull("chat_template"));
        return n;
    }

    private void putToken(ObjectNode n, String name, int id) {
        if (id < 0) {
            n.putNull(name + "_token");
            n.putNull(name + "_token_id");
        } else {
            n.put(name + "_token", piece(id));
            n.put(name + "_token_id", id);
        }
    }

    // ---- request fields -----------------------------------------------------------------------

    private void checkModel(JsonNode b) {
        JsonNode m = b.get("model");
        if (m == null || m.isNull()) {
            return;
        }
        if (!m.isTextual()) {
            throw new HttpException(400, "\"model\" must be a string", "model");
        }
        if (!m.asText().equals(options.modelName())) {
            throw new HttpException(404, "the model \"" + clip(m.asText()) + "\" does not exist; this server serves \"" + options.modelName() + "\"", "model");
        }
    }

    private static void checkN(JsonNode b) {
        Integer n = optInt(b, "n", 1, 1);
        if (b.has("best_of") && !b.get("best_of").isNull() && optInt(b, "best_of", 1, 1) == null) {
            throw new HttpException(400, "best_of must be 1", "best_of");
        }
        assert n == null || n == 1;
    }

    /** The prompts; text is tokenized with BOS where the model adds one unless {@code addSpecial} is false (vLLM's add_special_tokens). */
    private List<Prompt> prompts(JsonNode p, boolean addSpecial, Exchange x) {
        if (p == null || p.isNull()) {
            throw new HttpException(400, "\"prompt\" is required: a string, a list of strings, a list of token ids or a list of such lists", "prompt");
        }
        List<Prompt> out = new ArrayList<>();
        if (p.isTextual()) {
            out.add(textPrompt(p.asText(), addSpecial, x));
        } else if (p.isArray() && !p.isEmpty() && p.get(0).isIntegralNumber()) {
            out.add(new Prompt(ids(p, "prompt", x), null));
        } else if (p.isArray() && !p.isEmpty()) {
            for (JsonNode e : p) {
                if (e.isTextual()) {
                    out.add(textPrompt(e.asText(), addSpecial, x));
                } else if (e.isArray()) {
                    out.add(new Prompt(ids(e, "prompt", x), null));
                } else {
                    throw new HttpException(400, "each prompt in the list must be a string or a list of token ids", "prompt");
                }
            }
        } else {
            throw new HttpException(400, "\"prompt\" must be a non-empty string, list of strings, list of token ids or list of such lists", "prompt");
        }
        long total = 0;
        for (Prompt q : out) {
            total += q.tokens().length;
        }
        if (total > x.maxTokens()) {
            throw new HttpException(413, "the request has " + total + " tokens, more than the limit of " + x.maxTokens(), "prompt");
        }
        return out;
    }

    private Prompt textPrompt(String text, boolean addSpecial, Exchange x) {
        if (text.getBytes(StandardCharsets.UTF_8).length > 8L * x.maxTokens() + 64) { // a cheap bound before tokenizing
            throw new HttpException(413, "the prompt is longer than the token limit of " + x.maxTokens() + " allows", "prompt");
        }
        return new Prompt(checkedPrompt(model.tokenize(text, addSpecial, false), "prompt", x.maxTokens()), text);
    }

    private int[] checkedPrompt(int[] toks, String param, int limit) {
        if (toks.length == 0) {
            throw new HttpException(400, "the prompt is empty (no tokens)", param);
        }
        if (toks.length > limit) {
            throw new HttpException(413, "the request has " + toks.length + " tokens, more than the limit of " + limit, param);
        }
        return toks;
    }

    private int[] ids(JsonNode node, String param, Exchange x) {
        if (node == null || !node.isArray()) {
            throw new HttpException(400, "\"" + param + "\" must be an array of token ids", param);
        }
        if (node.size() > x.maxTokens()) {
            throw new HttpException(413, "the request has " + node.size() + " tokens, more than the limit of " + x.maxTokens(), param);
        }
        int vocab = model.info().vocabSize();
        int[] t = new int[node.size()];
        for (int i = 0; i < t.length; i++) {
            JsonNode e = node.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt() || e.asInt() < 0 || e.asInt() >= vocab) {
                throw new HttpException(400, param + "[" + i + "] is not a token id in [0, " + vocab + "): " + clip(e.toString()), param);
            }
            t[i] = e.asInt();
        }
        if (t.length == 0 && param.equals("prompt")) {
            throw new HttpException(400, "the prompt is empty (no tokens)", param);
        }
        return t;
    }

    private static SamplingOptions sampling(JsonNode b) {
        double temperature = num(b, "temperature", 1.0, 0, 1e6);
        double topP = num(b, "top_p", 1.0, 0, 1);
        if (b.hasNonNull("top_p") && topP == 0) {
            throw new HttpException(400, "top_p must be in (0, 1]", "top_p");
        }
        Integer topK = optInt(b, "top_k", -1, Integer.MAX_VALUE); // vLLM: -1 or 0 = off
        double minP = num(b, "min_p", 0, 0, 0.999999);
        long seed = -1;
        JsonNode s = b.get("seed");
        if (s != null && !s.isNull()) {
            if (!s.isIntegralNumber() || !s.canConvertToLong()) {
                throw new HttpException(400, "seed must be an integer", "seed");
            }
            seed = Math.floorMod(s.asLong(), SamplingOptions.MAX_SEED + 1);
        }
        return new SamplingOptions(temperature, topP, topK == null || topK < 0 ? 0 : topK, minP, seed);
    }

    private static List<String> stop(JsonNode b) {
        JsonNode s = b.get("stop");
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray() && s.size() <= 16) {
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw new HttpException(400, "stop must be a string or a list of strings", "stop");
                }
                out.add(e.asText());
            }
        } else {
            throw new HttpException(400, "stop must be a string or a list of at most 16 strings", "stop");
        }
        out.removeIf(String::isEmpty);
        return out;
    }

    private static boolean bool(JsonNode b, String name, boolean def) {
        JsonNode v = b.get(name);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isBoolean()) {
            throw new HttpException(400, name + " must be true or false, got " + clip(v.toString()), name);
        }
        return v.asBoolean();
    }

    /** An integer field within [min, max], or null when absent. */
    private static Integer optInt(JsonNode b, String name, int min, int max) {
        JsonNode v = b.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw new HttpException(400, name + " must be an integer in [" + min + ", " + max + "], got " + clip(v.toString()), name);
        }
        return v.asInt();
    }

    private static int intParam(JsonNode b, String name, int def, int min, int max) {
        Integer v = optInt(b, name, min, max);
        return v == null ? def : v;
    }

    private static double num(JsonNode b, String name, double def, double min, double max) {
        JsonNode v = b.get(name);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isNumber() || !(v.asDouble() >= min && v.asDouble() <= max)) {
            throw new HttpException(400, name + " must be a number in [" + min + ", " + max + "], got " + clip(v.toString()), name);
        }
        return v.asDouble();
    }

    // ---- answers ------------------------------------------------------------------------------

    private ObjectNode modelCard() {
        ObjectNode m = JSON.createObjectNode();
        m.put("id", options.modelName());
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "panscore");
        m.put("max_model_len", options.generationContext());
        return m;
    }

    private ObjectNode chunk(String id, String object) {
        ObjectNode c = JSON.createObjectNode();
        c.put("id", id);
        c.put("object", object);
        c.put("created", System.currentTimeMillis() / 1000);
        c.put("model", options.modelName());
        c.putArray("choices");
        return c;
    }

    private static ObjectNode usage(int prompt, int completion) {
        ObjectNode u = JSON.createObjectNode();
        u.put("prompt_tokens", prompt);
        u.put("completion_tokens", completion);
        u.put("total_tokens", prompt + completion);
        return u;
    }

    /** "stop" (stop string, end of generation), "length" (max tokens, context, or nothing generated). */
    private static String finishReason(Generation g) {
        if (g == null) {
            return "length";
        }
        return switch (g.finishReason()) {
            case STOP_STRING, END_OF_GENERATION -> "stop";
            case MAX_TOKENS, CONTEXT_FULL -> "length";
            case CANCELLED -> "abort";
        };
    }

    /**
     * The text of token ids as a Hugging Face tokenizer decodes them with special tokens skipped: a
     * leading BOS does not keep the SentencePiece space of the next token.
     */
    private String detokenize(int[] toks) {
        int bos = model.info().bos();
        int from = 0;
        while (from < toks.length && toks[from] == bos && bos >= 0) {
            from++;
        }
        return model.detokenize(Arrays.copyOfRange(toks, from, toks.length), false);
    }

    /** A token's piece text (cached). */
    private String piece(int id) {
        String p = pieces[id];
        if (p == null) {
            p = model.tokenText(id);
            pieces[id] = p;
        }
        return p;
    }

    private static String randomId() {
        byte[] b = new byte[12];
        ThreadLocalRandom.current().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static String clip(String s) {
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }
}
