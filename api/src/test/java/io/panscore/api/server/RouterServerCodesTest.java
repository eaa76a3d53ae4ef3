package io.panscore.api.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.Independent;
import io.panscore.api.router.EntropyMode;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.Fixtures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every endpoint's success and error statuses with the values they carry: decisions against the
 * float64 reference entropy of the same tokens, session lengths against tokens counted here, the
 * error types, and the request counter in /metrics.
 */
class RouterServerCodesTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static Model model;
    static Engine scratch;
    static GlimpRouter router;
    static RouterServer server;
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final double TAU = 2.0;

    @BeforeAll
    static void start() throws Exception {
        model = Model.load(Fixtures.tiny());
        scratch = model.newEngine(EngineOptions.defaults().withContextSize(512));
        RouterMetrics metrics = new RouterMetrics();
        router = GlimpRouter.builder(model).maxSessions(4).contextSize(512).threshold(TAU).entropyMode(EntropyMode.EXACT).delimiter("\n\n")
                .listener(metrics).build();
        server = RouterServer.start(router, ServerOptions.defaults().withPort(0).withMaxBodyBytes(1000).withMaxTokens(60).withMaxSessionsPerClient(0), metrics);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        router.close();
        scratch.close();
        model.close();
    }

    record Reply(int status, JsonNode json, String text, HttpResponse<String> raw) {}

    static Reply call(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = r.headers().firstValue("content-type").orElse("").startsWith("application/json") ? JSON.readTree(r.body()) : null;
        return new Reply(r.statusCode(), json, r.body(), r);
    }

    static void assertDecision(int[] context, JsonNode d) {
        ReferenceKernel.Stats ref = Independent.next(scratch, context, GlimpRouter.TOP_K);
        assertEquals(ref.entropy(), d.get("exact_entropy").asDouble(), 1e-4, d.toString());
        assertEquals(ref.entropy(), d.get("entropy").asDouble(), 1e-4, "exact mode compares the exact entropy");
        assertEquals(Independent.renormalisedEntropy(ref.topLogprobs()), d.get("top_k_entropy").asDouble(), 1e-4);
        assertEquals(ref.argmax(), d.get("token").asInt());
        assertEquals(ref.argmaxLogprob(), d.get("logprob").asDouble(), 1e-4);
        assertEquals(ref.entropy() >= TAU ? "large" : "small", d.get("route").asText());
        assertEquals(TAU, d.get("threshold").asDouble(), 0);
        assertEquals("exact", d.get("mode").asText());
    }

    @Test
    void successesCarryTheReferenceValues() throws Exception {
        String prompt = "What is 6 times 7?";
        int[] ctx = model.tokenize(prompt, true, true);
        Reply open = call("POST", "/v1/sessions", "{\"prompt\": \"" + prompt + "\"}");
        assertEquals(201, open.status(), open.text());
        assertEquals(ctx.length, open.json().get("tokens").asInt());
        String id = open.json().get("session").asText();
        Reply g = call("POST", "/v1/sessions/" + id + "/glimpse", null);
        assertEquals(200, g.status(), g.text());
        assertDecision(ctx, g.json());
        Reply app = call("POST", "/v1/sessions/" + id + "/append", "{\"text\": \"Six sevens.\"}");
        assertEquals(200, app.status(), app.text());
        int[] grown = concat(ctx, model.tokenize("Six sevens.\n\n", false, false));
        assertEquals(grown.length, app.json().get("tokens").asInt(), "the step and the delimiter");
        int[] extra = model.tokenize(" More", false, false);
        Reply appTokens = call("POST", "/v1/sessions/" + id + "/append", "{\"tokens\": " + Arrays.toString(extra) + "}");
        assertEquals(200, appTokens.status(), appTokens.text());
        grown = concat(grown, extra);
        assertEquals(grown.length, appTokens.json().get("tokens").asInt(), "tokens are appended as they are");
        Reply fork = call("POST", "/v1/sessions/" + id + "/fork", null);
        assertEquals(201, fork.status(), fork.text());
        assertEquals(grown.length, fork.json().get("tokens").asInt());
        String forked = fork.json().get("session").asText();
        assertTrue(!forked.equals(id));
        assertDecision(grown, call("POST", "/v1/sessions/" + forked + "/glimpse", null).json());
        assertDecision(grown, call("POST", "/v1/sessions/" + id + "/glimpse", null).json());
        Reply del = call("DELETE", "/v1/sessions/" + forked, null);
        assertEquals(200, del.status());
        assertTrue(del.json().get("closed").asBoolean());
        assertEquals(forked, del.json().get("session").asText());
        assertEquals(404, call("DELETE", "/v1/sessions/" + forked, null).status(), "deleted twice");
        assertEquals(200, call("DELETE", "/v1/sessions/" + id, null).status());
        // one-shot glimpses: text (special tokens parsed), tokens, chat messages
        String chatml = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
        Reply text = call("POST", "/v1/glimpse", JSON.writeValueAsString(java.util.Map.of("context", chatml)));
        assertEquals(200, text.status(), text.text());
        assertDecision(model.tokenize(chatml, true, true), text.json());
        int[] toks = model.tokenize("Hello there", true, false);
        Reply byTokens = call("POST", "/v1/glimpse", "{\"tokens\": " + Arrays.toString(toks) + "}");
        assertEquals(200, byTokens.status());
        assertDecision(toks, byTokens.json());
        Reply chat = call("POST", "/v1/glimpse", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
        assertEquals(200, chat.status(), chat.text());
        assertEquals(router.glimpseContext(model.tokenize(model.renderChat(java.util.List.of(new io.panscore.kernel.ChatMessage("user", "Hi")), null, true), true, true)).token(),
                chat.json().get("token").asInt());
        Reply health = call("GET", "/health", null);
        assertEquals(200, health.status());
        assertEquals("ok", health.json().get("status").asText());
        assertEquals(TAU, health.json().get("threshold").asDouble(), 0);
        assertEquals("exact", health.json().get("mode").asText());
        assertEquals(0, health.json().get("sessions").asInt());
    }

    @Test
    void everyErrorStatusWithItsType() throws Exception {
        String id = call("POST", "/v1/sessions", "{\"prompt\": \"errors\"}").json().get("session").asText();
        try {
            expect(405, "method_not_allowed", call("GET", "/v1/glimpse", null));
            expect(405, "method_not_allowed", call("DELETE", "/v1/sessions", null));
            expect(405, "method_not_allowed", call("POST", "/health", null));
            expect(405, "method_not_allowed", call("GET", "/v1/sessions/" + id + "/glimpse", null));
            expect(405, "method_not_allowed", call("GET", "/v1/sessions/" + id + "/append", null));
            expect(405, "method_not_allowed", call("DELETE", "/v1/sessions/" + id + "/fork", null));
            expect(405, "method_not_allowed", call("POST", "/v1/sessions/" + id, null));
            expect(404, "not_found", call("POST", "/v1/sessions/" + id + "/bogus", null));
            expect(404, "not_found", call("POST", "/v1/sessions/999999/append", "{\"text\": \"x\"}"));
            expect(404, "not_found", call("POST", "/v1/sessions/x1/fork", null));
            expect(404, "not_found", call("GET", "/v2/anything", null));
            expect(400, "bad_request", call("POST", "/v1/sessions/" + id + "/append", "{\"txt\": \"x\"}"));
            expect(400, "bad_request", call("POST", "/v1/sessions/" + id + "/append", "{\"tokens\": \"1 2\"}"));
            expect(400, "bad_request", call("POST", "/v1/sessions/" + id + "/append", "{\"tokens\": [1, \"two\"]}"));
            expect(400, "bad_request", call("POST", "/v1/glimpse", "[1, 2]"));
            expect(400, "bad_request", call("POST", "/v1/glimpse", "{}"));
            expect(400, "bad_request", call("POST", "/v1/glimpse", "{\"tokens\": []}"));
            expect(400, "bad_request", call("POST", "/v1/glimpse", "{\"messages\": [{\"role\": \"user\"}]}"));
            expect(400, "bad_request", call("POST", "/v1/sessions", "{\"prompt\": [\"not\", \"text\"]}"));
            expect(400, "invalid_input", call("POST", "/v1/glimpse", "{\"tokens\": [999999]}"));
            expect(413, "too_large", call("POST", "/v1/glimpse", "{\"context\": \"" + "y".repeat(1200) + "\"}"));
            expect(413, "too_large", call("POST", "/v1/sessions/" + id + "/append", "{\"text\": \"" + "go ".repeat(100) + "\"}"));
            expect(413, "too_large", call("POST", "/v1/glimpse", "{\"tokens\": " + Arrays.toString(new int[61]) + "}"));
            // no capacity: 503 with Retry-After
            String[] more = new String[3];
            for (int i = 0; i < 3; i++) {
                Reply r = call("POST", "/v1/sessions", "{\"prompt\": \"s" + i + "\"}");
                assertEquals(201, r.status(), r.text());
                more[i] = r.json().get("session").asText();
            }
            Reply full = call("POST", "/v1/sessions", "{\"prompt\": \"one too many\"}");
            expect(503, "capacity", full);
            assertEquals("1", full.raw().headers().firstValue("retry-after").orElse(""));
            expect(503, "capacity", call("POST", "/v1/sessions/" + id + "/fork", null));
            for (String m : more) {
                assertEquals(200, call("DELETE", "/v1/sessions/" + m, null).status());
            }
        } finally {
            call("DELETE", "/v1/sessions/" + id, null);
        }
        // the counter saw them, by endpoint and status
        String metrics = call("GET", "/metrics", null).text();
        assertTrue(count(metrics, "/v1/sessions/{id}/append", "413") >= 1, metrics);
        assertTrue(count(metrics, "/v1/glimpse", "405") >= 1, metrics);
        assertTrue(count(metrics, "/v1/sessions", "503") >= 1, metrics);
        assertTrue(count(metrics, "/v1/sessions/{id}/fork", "503") >= 1, metrics);
    }

    private static void expect(int status, String type, Reply r) {
        assertEquals(status, r.status(), r.text());
        assertEquals(type, r.json().get("type").asText(), r.text());
        assertTrue(!r.json().get("error").asText().isBlank(), r.text());
    }

    private static double count(String metrics, String endpoint, String status) {
        Matcher m = Pattern.compile("panscore_http_requests_total\\{endpoint=\"" + Pattern.quote(endpoint) + "\",status=\"" + status + "\"} ([0-9.eE+]+)")
                .matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
