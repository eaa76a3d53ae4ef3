package io.panscore.api.server.openai;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.server.RouterMetrics;
import io.panscore.api.server.RouterServer;
import io.panscore.api.server.ServerOptions;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.GenerateOptions;
import io.panscore.kernel.Generation;
import io.panscore.kernel.Generator;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.SessionPool;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The OpenAI-compatible API over loopback on stories260K (a trained TinyStories model). Expected
 * values come from elsewhere: prompt log-probs from the float64 {@link ReferenceKernel} over logits
 * copied out by a plain forward pass (and Engine.score, the path {@code panscore cli score} takes),
 * greedy text from a {@link Generator} of the test's own, top-20 entropies from a GlimpRouter
 * glimpse and from the reference kernel.
 */
class OpenAiServerTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String NAME = "stories260K";
    static final String CHATML = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
            + "{% if not loop.last or add_generation_prompt %}<|im_end|>\n{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    static Model model;
    static GlimpRouter router;
    static RouterServer server;
    static Engine reference;
    static HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        model = Model.load(io.panscore.api.SharedModels.stories260K());
        RouterMetrics metrics = new RouterMetrics();
        router = GlimpRouter.builder(model).maxSessions(2).contextSize(512).threads(2).listener(metrics).build();
        OpenAiProtocol openai = new OpenAiProtocol(model, OpenAiOptions.defaults(NAME).withContexts(512, 512).withMaxGenerations(2).withThreads(2));
        server = RouterServer.start(router, ServerOptions.defaults().withPort(0).withMaxTokens(400).withMaxBodyBytes(64 * 1024), metrics, List.of(openai));
        reference = model.newEngine(EngineOptions.defaults().withContextSize(512).withThreads(2));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        reference.close();
        router.close();
        model.close();
    }

    record Reply(int status, JsonNode json, String text) {}

    static Reply call(String method, String path, String body) throws Exception {
        return call(method, path, body == null ? null : body.getBytes(StandardCharsets.UTF_8));
    }

    static Reply call(String method, String path, byte[] body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = r.headers().firstValue("content-type").orElse("").startsWith("application/json") ? JSON.readTree(r.body()) : null;
        return new Reply(r.statusCode(), json, r.body());
    }

    /** Sum of log p(t_i | t_<i), i >= 1, in float64 from the raw logits. */
    static double referenceSum(int[] toks) {
        int vocab = model.info().vocabSize();
        float[] logits = reference.logits(List.of(Sequence.of(toks)));
        double sum = 0;
        for (int i = 1; i < toks.length; i++) {
            sum += ReferenceKernel.stats(logits, (i - 1) * vocab, vocab, toks[i], 1.0, 0).logprob();
        }
        return sum;
    }

    static double sumFrom(JsonNode tokenLogprobs, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += tokenLogprobs.get(i).asDouble();
        }
        return s;
    }

    static final String TEXT = "Once upon a time, there was a little girl named Lily. She loved to play outside.";

    @Test
    void echoLogprobsSumToTheReferenceAndCliScore() throws Exception {
        Reply r = call("POST", "/v1/completions", "{\"model\": \"" + NAME + "\", \"prompt\": " + JSON.writeValueAsString(TEXT)
                + ", \"echo\": true, \"max_tokens\": 0, \"logprobs\": 3}");
        assertEquals(200, r.status(), r.text());
        JsonNode c = r.json().get("choices").get(0);
        assertEquals(TEXT, c.get("text").asText());
        assertEquals("length", c.get("finish_reason").asText());
        int[] toks = model.tokenize(TEXT, true, false);
        JsonNode lp = c.get("logprobs");
        assertEquals(toks.length, lp.get("tokens").size());
        assertTrue(lp.get("token_logprobs").get(0).isNull());
        assertTrue(lp.get("top_logprobs").get(0).isNull());
        double sum = sumFrom(lp.get("token_logprobs"), 1, toks.length);
        assertEquals(referenceSum(toks), sum, 1e-3, "float64 reference over copied logits");
        assertEquals(reference.score(Sequence.of(toks)).totalLogprob(), sum, 1e-4, "Engine.score (panscore cli score's path)");
        // each top_logprobs dictionary holds the prompt token with its own log-prob, and 3 or 4 entries
        for (int i = 1; i < toks.length; i++) {
            JsonNode top = lp.get("top_logprobs").get(i);
            String tok = lp.get("tokens").get(i).asText();
            assertEquals(lp.get("token_logprobs").get(i).asDouble(), top.get(tok).asDouble(), 1e-6);
            assertTrue(top.size() >= 3 && top.size() <= 4, top.toString());
            assertTrue(c.get("panscore").get("rank").get(i).asInt() >= 1);
        }
        // text offsets: the tokens' pieces start there ("Once" at 0, " upon" at 4)
        assertEquals(0, lp.get("text_offset").get(1).asInt());
        assertEquals(4, lp.get("text_offset").get(2).asInt());
        assertEquals(" upon", lp.get("tokens").get(2).asText());
        assertEquals(toks.length, r.json().get("usage").get("prompt_tokens").asInt());
    }

    @Test
    void addSpecialTokensFalseScoresTheTextWithoutBos() throws Exception {
        Reply r = call("POST", "/v1/completions", "{\"prompt\": \"Once upon a time\", \"echo\": true, \"max_tokens\": 0, \"logprobs\": 0, "
                + "\"add_special_tokens\": false}");
        assertEquals(200, r.status(), r.text());
        int[] toks = model.tokenize("Once upon a time", false, false);
        JsonNode lp = r.json().get("choices").get(0).get("logprobs");
        assertEquals(toks.length, lp.get("tokens").size());
        assertEquals(" Once", lp.get("tokens").get(0).asText());
        assertEquals(referenceSum(toks), sumFrom(lp.get("token_logprobs"), 1, toks.length), 1e-3);
    }

    @Test
    void tokenIdPromptsAndBatchesGiveTheSameNumbers() throws Exception {
        int[] a = model.tokenize(TEXT, true, false);
        int[] b = model.tokenize("The cat sat on the mat.", true, false);
        Reply r = call("POST", "/v1/completions", "{\"prompt\": [" + JSON.writeValueAsString(a) + ", " + JSON.writeValueAsString(b)
                + "], \"echo\": true, \"max_tokens\": 0, \"logprobs\": 0, \"prompt_logprobs\": 2}");
        assertEquals(200, r.status(), r.text());
        JsonNode choices = r.json().get("choices");
        assertEquals(2, choices.size());
        int[][] all = {a, b};
        for (int k = 0; k < 2; k++) {
            JsonNode c = choices.get(k);
            assertEquals(k, c.get("index").asInt());
            assertEquals(referenceSum(all[k]), sumFrom(c.get("logprobs").get("token_logprobs"), 1, all[k].length), 1e-3);
            JsonNode pl = c.get("prompt_logprobs");
            assertTrue(pl.get(0).isNull());
            double vllmSum = 0;
            for (int i = 1; i < all[k].length; i++) {
                vllmSum += pl.get(i).get(Integer.toString(all[k][i])).get("logprob").asDouble();
            }
            assertEquals(reference.score(Sequence.of(all[k])).totalLogprob(), vllmSum, 1e-4);
        }
    }

    @Test
    void echoWithOneGeneratedTokenIsWhatLmEvalSlices() throws Exception {
        int[] toks = model.tokenize(TEXT, true, false);
        Reply r = call("POST", "/v1/completions", "{\"prompt\": " + JSON.writeValueAsString(toks)
                + ", \"echo\": true, \"max_tokens\": 1, \"logprobs\": 1, \"temperature\": 0}");
        assertEquals(200, r.status(), r.text());
        JsonNode lp = r.json().get("choices").get(0).get("logprobs");
        assertEquals(toks.length + 1, lp.get("token_logprobs").size());
        // lm-eval: sum(token_logprobs[ctxlen:-1]) is the continuation's log-likelihood
        int ctxlen = 5;
        int[] ctx = Arrays.copyOf(toks, ctxlen);
        double cont = referenceSum(toks) - referenceSum(ctx);
        assertEquals(cont, sumFrom(lp.get("token_logprobs"), ctxlen, toks.length), 1e-3);
    }

    @Test
    void greedyGenerationEqualsTheGenerators() throws Exception {
        String prompt = "Once upon a time";
        Reply r = call("POST", "/v1/completions", "{\"prompt\": \"" + prompt + "\", \"max_tokens\": 24, \"temperature\": 0, \"logprobs\": 2}");
        assertEquals(200, r.status(), r.text());
        Generation expected;
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(256).withMaxSequences(1).withThreads(2), 0);
                Generator g = new Generator(pool)) {
            SessionPool.Session s = pool.open(model.tokenize(prompt, true, false));
            expected = g.generate(s, GenerateOptions.greedy(24));
        }
        JsonNode c = r.json().get("choices").get(0);
        assertEquals(expected.text(), c.get("text").asText());
        assertFalse(expected.text().isEmpty());
        JsonNode lp = c.get("logprobs");
        assertEquals(expected.tokens().size(), lp.get("tokens").size());
        for (int i = 0; i < expected.tokens().size(); i++) {
            assertEquals(expected.tokens().get(i).logprob(), lp.get("token_logprobs").get(i).asDouble(), 1e-5);
            assertEquals(model.tokenText(expected.tokens().get(i).id()), lp.get("tokens").get(i).asText());
        }
        assertEquals(expected.tokens().size(), r.json().get("usage").get("completion_tokens").asInt());
    }

    @Test
    void streamingDeltasConcatenateToTheBlockingText() throws Exception {
        String body = "{\"prompt\": \"Lily went to the park\", \"max_tokens\": 20, \"temperature\": 0";
        Reply blocking = call("POST", "/v1/completions", body + "}");
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body + ", \"stream\": true}")).build();
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        StringBuilder text = new StringBuilder();
        List<String> events = r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertEquals("[DONE]", events.getLast());
        String finish = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode c = JSON.readTree(e).get("choices").get(0);
            text.append(c.get("text").asText());
            if (!c.get("finish_reason").isNull()) {
                finish = c.get("finish_reason").asText();
            }
        }
        assertEquals(blocking.json().get("choices").get(0).get("text").asText(), text.toString());
        assertEquals(blocking.json().get("choices").get(0).get("finish_reason").asText(), finish);
    }

    @Test
    void chatTopLogprobsGiveTheGlimpseTopKEntropy() throws Exception {
        String messages = "[{\"role\": \"user\", \"content\": \"Tell me a story.\"}, {\"role\": \"assistant\", \"content\": \"Once upon a time\"}]";
        String common = "\"messages\": " + messages + ", \"chat_template\": " + JSON.writeValueAsString(CHATML)
                + ", \"add_generation_prompt\": false, \"continue_final_message\": true";
        Reply tok = call("POST", "/tokenize", "{" + common + "}");
        assertEquals(200, tok.status(), tok.text());
        int[] toks = JSON.treeToValue(tok.json().get("tokens"), int[].class);
        String rendered = "<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\nOnce upon a time";
        assertArrayEquals(model.tokenize(rendered, false, true), toks);

        Reply r = call("POST", "/v1/chat/completions", "{" + common + ", \"max_tokens\": 1, \"logprobs\": true, \"top_logprobs\": 20}");
        assertEquals(200, r.status(), r.text());
        JsonNode c = r.json().get("choices").get(0);
        assertEquals("assistant", c.get("message").get("role").asText());
        JsonNode content = c.get("logprobs").get("content");
        assertEquals(1, content.size());
        JsonNode tops = content.get(0).get("top_logprobs");
        assertEquals(20, tops.size());
        double z = 0;
        for (JsonNode t : tops) {
            z += Math.exp(t.get("logprob").asDouble());
            assertTrue(t.get("bytes").isArray());
        }
        double h = 0;
        for (JsonNode t : tops) {
            double p = Math.exp(t.get("logprob").asDouble()) / z;
            h -= p * Math.log(p);
        }
        assertEquals(router.glimpseContext(toks).topKEntropy(), h, 5e-3, "GlimpRouter's TOP_K glimpse");
        // and the float64 reference over the logits after the context
        int vocab = model.info().vocabSize();
        int[] withNext = Arrays.copyOf(toks, toks.length + 1);
        float[] logits = reference.logits(List.of(new Sequence(withNext, toks.length, toks.length + 1)));
        ReferenceKernel.Stats st = ReferenceKernel.stats(logits, 0, vocab, 0, 1.0, 20);
        double zr = 0;
        for (double lp : st.topLogprobs()) {
            zr += Math.exp(lp);
        }
        double hr = 0;
        for (double lp : st.topLogprobs()) {
            double p = Math.exp(lp) / zr;
            hr -= p * Math.log(p);
        }
        assertEquals(hr, h, 5e-3);
    }

    @Test
    void chatStreamsAndDefaultsToAGenerationPrompt() throws Exception {
        String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"chat_template\": " + JSON.writeValueAsString(CHATML)
                + ", \"max_tokens\": 8, \"temperature\": 0, \"stream\": true}";
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        List<String> events = r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertEquals("[DONE]", events.getLast());
        assertEquals("assistant", JSON.readTree(events.getFirst()).get("choices").get(0).get("delta").get("role").asText());
        StringBuilder text = new StringBuilder();
        for (String e : events.subList(1, events.size() - 1)) {
            text.append(JSON.readTree(e).get("choices").get(0).get("delta").path("content").asText(""));
        }
        Reply blocking = call("POST", "/v1/chat/completions", body.replace("\"stream\": true", "\"stream\": false"));
        assertEquals(blocking.json().get("choices").get(0).get("message").get("content").asText(), text.toString());
    }

    @Test
    void aClientThatLeavesMidStreamFreesItsGeneration() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"Once\", \"max_tokens\": 400, \"temperature\": 1, \"seed\": 3, \"stream\": true}")).build();
        HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            assertTrue(in.readLine().startsWith("data: "));
        }
        // both generation slots (maxGenerations 2) must come back: three blocking requests in a row succeed
        for (int i = 0; i < 3; i++) {
            Reply ok = call("POST", "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2}");
            assertEquals(200, ok.status(), ok.text());
        }
    }

    @Test
    void modelsAndTokenizerEndpoints() throws Exception {
        Reply m = call("GET", "/v1/models", (String) null);
        assertEquals(200, m.status());
        assertEquals(NAME, m.json().get("data").get(0).get("id").asText());
        Reply t = call("POST", "/v1/tokenize", "{\"prompt\": " + JSON.writeValueAsString(TEXT) + "}");
        assertArrayEquals(model.tokenize(TEXT, true, true), JSON.treeToValue(t.json().get("tokens"), int[].class));
        Reply d = call("POST", "/detokenize", "{\"tokens\": " + t.json().get("tokens") + "}");
        assertEquals(TEXT, d.json().get("prompt").asText());
        Reply info = call("GET", "/tokenizer_info", (String) null);
        assertEquals(model.info().vocabSize(), info.json().get("vocab_size").asInt());
        assertEquals(model.info().eos(), info.json().get("eos_token_id").asInt());
    }

    static void assertOpenAiError(Reply r, int status, String param) {
        assertEquals(status, r.status(), r.text());
        JsonNode e = r.json().get("error");
        assertTrue(e != null && e.get("message").isTextual() && e.get("type").isTextual() && e.has("param") && e.has("code"), r.text());
        if (param != null) {
            assertEquals(param, e.get("param").asText(), r.text());
        }
    }

    @Test
    void badRequestsGetOpenAiErrorsAndTheServerKeepsServing() throws Exception {
        Reply unknown = call("POST", "/v1/completions", "{\"model\": \"gpt-9\", \"prompt\": \"x\"}");
        assertOpenAiError(unknown, 404, "model");
        assertEquals("model_not_found", unknown.json().get("error").get("code").asText());
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": -1}"), 400, "max_tokens");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": \"x\", \"logprobs\": 21}"), 400, "logprobs");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": \"x\", \"temperature\": \"hot\"}"), 400, "temperature");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": 7}"), 400, "prompt");
        assertOpenAiError(call("POST", "/v1/completions", "{}"), 400, "prompt");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": [1, 99999]}"), 400, "prompt");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": \"x\", \"n\": 2}"), 400, "n");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": \"x\", \"echo\": \"yes\"}"), 400, "echo");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": " + JSON.writeValueAsString("word ".repeat(500)) + "}"), 413, "prompt");
        assertOpenAiError(call("POST", "/v1/completions", "{\"prompt\": "), 400, null);
        assertOpenAiError(call("POST", "/v1/completions", new byte[] {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'}), 400, null);
        assertOpenAiError(call("GET", "/v1/completions", (String) null), 405, null);
        assertOpenAiError(call("POST", "/v1/chat/completions", "{\"messages\": []}"), 400, "messages");
        assertOpenAiError(call("POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"), 400, null); // no template
        assertOpenAiError(call("POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_logprobs\": 50, \"logprobs\": true}"),
                400, "top_logprobs");
        assertOpenAiError(call("POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"add_generation_prompt\": true, "
                + "\"continue_final_message\": true, \"chat_template\": \"x\"}"), 400, "add_generation_prompt");
        assertOpenAiError(call("POST", "/v1/models/gpt-9", (String) null), 405, null);
        assertOpenAiError(call("GET", "/v1/models/gpt-9", (String) null), 404, "model");
        // the session API keeps its own error shape
        Reply legacy = call("POST", "/v1/glimpse", "{}");
        assertEquals(400, legacy.status());
        assertTrue(legacy.json().get("error").isTextual());
        Reply ok = call("POST", "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2, \"seed\": 1}");
        assertEquals(200, ok.status(), ok.text());
    }
}
