package io.panscore.api.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP sidecar over loopback: every endpoint, the limits, and the error statuses. */
class RouterServerTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static Model model;
    static GlimpRouter router;
    static RouterServer server;
    static HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        model = Model.load(Fixtures.tiny());
        RouterMetrics metrics = new RouterMetrics();
        router = GlimpRouter.builder(model).maxSessions(3).contextSize(512).threshold(5.0).listener(metrics).build();
        server = RouterServer.start(router, ServerOptions.defaults().withPort(0).withMaxBodyBytes(4096).withMaxTokens(200).withMaxSessionsPerClient(0), metrics);
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        router.close();
        model.close();
    }

    record Reply(int status, JsonNode json, String text, HttpResponse<String> raw) {}

    static Reply call(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        if (r.headers().firstValue("content-type").orElse("").startsWith("application/json")) {
            json = JSON.readTree(r.body());
        }
        return new Reply(r.statusCode(), json, r.body(), r);
    }

    @Test
    void sessionLifecycleMatchesTheInProcessRouter() throws Exception {
        Reply open = call("POST", "/v1/sessions", "{\"prompt\": \"What is 6 times 7?\"}");
        assertEquals(201, open.status(), open.text());
        String id = open.json().get("session").asText();
        assertTrue(id.matches("[0-9a-f]{32}"), "a random 128-bit id: " + id);
        Reply g1 = call("POST", "/v1/sessions/" + id + "/glimpse", null);
        assertEquals(200, g1.status(), g1.text());
        // the float64 reference on the same tokens, not the router under test
        try (io.panscore.kernel.Engine scratch = model.newEngine(io.panscore.kernel.EngineOptions.defaults().withContextSize(512))) {
            io.panscore.kernel.ReferenceKernel.Stats ref = io.panscore.api.Independent.next(scratch, model.tokenize("What is 6 times 7?", true, true), 0);
            assertEquals(ref.entropy(), g1.json().get("exact_entropy").asDouble(), 1e-4);
            assertEquals(ref.argmax(), g1.json().get("token").asInt());
        }
        assertEquals(g1.json().get("entropy").asDouble() >= 5.0 ? "large" : "small", g1.json().get("route").asText());
        Reply app = call("POST", "/v1/sessions/" + id + "/append", "{\"text\": \"Six sevens.\"}");
        assertEquals(200, app.status(), app.text());
        assertTrue(app.json().get("tokens").asInt() > open.json().get("tokens").asInt());
        Reply fork = call("POST", "/v1/sessions/" + id + "/fork", "");
        assertEquals(201, fork.status(), fork.text());
        String forked = fork.json().get("session").asText();
        Reply g2 = call("POST", "/v1/sessions/" + id + "/glimpse", "{}");
        Reply g3 = call("POST", "/v1/sessions/" + forked + "/glimpse", "{}");
        assertEquals(g2.json().get("token").asInt(), g3.json().get("token").asInt());
        assertEquals(200, call("DELETE", "/v1/sessions/" + forked, null).status());
        assertEquals(404, call("POST", "/v1/sessions/" + forked + "/glimpse", null).status(), "a closed session is gone");
        assertEquals(200, call("DELETE", "/v1/sessions/" + id, null).status());
        Reply oneShot = call("POST", "/v1/glimpse", "{\"tokens\": " + java.util.Arrays.toString(model.tokenize("Hello there", true, false)) + "}");
        assertEquals(200, oneShot.status(), oneShot.text());
        Reply chat = call("POST", "/v1/glimpse", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
        assertEquals(200, chat.status(), chat.text());
    }

    @Test
    void errorsAndLimits() throws Exception {
        assertEquals(404, call("POST", "/v1/sessions/12345/glimpse", null).status());
        assertEquals(404, call("POST", "/v1/sessions/abc/glimpse", null).status());
        assertEquals(404, call("GET", "/nope", null).status());
        assertEquals(405, call("GET", "/v1/sessions", null).status());
        Reply bad = call("POST", "/v1/sessions", "{not json");
        assertEquals(400, bad.status());
        assertTrue(bad.json().get("error").asText().contains("not valid JSON"), bad.text());
        assertEquals(400, call("POST", "/v1/sessions", "{\"prompt\": 5}").status());
        assertEquals(400, call("POST", "/v1/sessions", "{\"tokens\": [1, -3]}").status(), "token out of range");
        Reply big = call("POST", "/v1/sessions", "{\"prompt\": \"" + "x".repeat(5000) + "\"}");
        assertEquals(413, big.status(), big.text());
        Reply many = call("POST", "/v1/glimpse", "{\"context\": \"" + "word ".repeat(300) + "\"}");
        assertEquals(413, many.status(), many.text());
        assertTrue(many.json().get("error").asText().contains("limit of 200"), many.text());
        String[] ids = new String[3];
        for (int i = 0; i < 3; i++) {
            ids[i] = call("POST", "/v1/sessions", "{\"prompt\": \"session " + i + "\"}").json().get("session").asText();
        }
        Reply full = call("POST", "/v1/sessions", "{\"prompt\": \"one too many\"}");
        assertEquals(503, full.status(), full.text());
        assertEquals("1", full.raw().headers().firstValue("retry-after").orElse(""));
        for (String id : ids) {
            call("DELETE", "/v1/sessions/" + id, null);
        }
    }

    @Test
    void healthAndMetrics() throws Exception {
        call("POST", "/v1/glimpse", "{\"context\": \"warm up\"}");
        Reply health = call("GET", "/health", null);
        assertEquals(200, health.status());
        assertEquals("ok", health.json().get("status").asText());
        Reply metrics = call("GET", "/metrics", null);
        assertEquals(200, metrics.status());
        assertTrue(metrics.raw().headers().firstValue("content-type").orElse("").startsWith("text/plain"), metrics.raw().headers().toString());
        for (String name : new String[] {"panscore_glimpse_latency_seconds_bucket", "panscore_glimpse_batch_size_count",
                "panscore_glimpse_large_fraction", "panscore_sessions_open", "panscore_http_requests_total"}) {
            assertTrue(metrics.text().contains(name), name + " in\n" + metrics.text());
        }
    }
}
