package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code panscore serve} in its own JVM, every flag checked by what the server then does: the
 * threshold and the top-k mode by decisions against the float64 reference, --delimiter by the
 * tokens an append adds, --max-sessions by 503, --max-body and --max-tokens by 413, --port 0 and
 * --host by where it listens; SIGTERM stops it.
 */
class ServeCliTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    record Reply(int status, JsonNode json) {}

    static Reply call(int port, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body().startsWith("{") ? JSON.readTree(r.body()) : null);
    }

    @Test
    void flagsShapeWhatTheServerDoes() throws Exception {
        Path tiny = Fixtures.tiny();
        String[] contexts = {"Count: one", "Once upon a time", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"};
        double[] topK = new double[contexts.length];
        int[] argmax = new int[contexts.length];
        try (Model model = Model.load(tiny); Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            for (int i = 0; i < contexts.length; i++) {
                ReferenceKernel.Stats ref = Independent.next(scratch, model.tokenize(contexts[i], true, true), GlimpRouter.TOP_K);
                topK[i] = Independent.renormalisedEntropy(ref.topLogprobs());
                argmax[i] = ref.argmax();
            }
        }
        double[] sorted = topK.clone();
        java.util.Arrays.sort(sorted);
        int gap = sorted[1] - sorted[0] > sorted[2] - sorted[1] ? 0 : 1;
        assertTrue(sorted[gap + 1] - sorted[gap] > 2e-3, java.util.Arrays.toString(sorted));
        double tau = (sorted[gap] + sorted[gap + 1]) / 2; // some contexts small, some large

        try (ServeProcess serve = ServeProcess.start(List.of("--model", tiny.toString(), "--port", "0", "--host",
                "127.0.0.1", "--threshold", Double.toString(tau), "--mode", "top-k", "--delimiter", " ### ", "--max-sessions", "2", "--max-sessions-per-client", "0", "--one-shot-reserve", "0", "--ctx", "512",
                "--max-wait-us", "50", "--max-body", "2000", "--max-tokens", "100", "--threads", "1", "--gpu-layers", "0"))) {
            int port = serve.port();

            Reply health = call(port, "GET", "/health", null);
            assertEquals(200, health.status());
            assertEquals(tau, health.json().get("threshold").asDouble(), 0);
            assertEquals("top-k", health.json().get("mode").asText());
            int small = 0;
            for (int i = 0; i < contexts.length; i++) {
                Reply d = call(port, "POST", "/v1/glimpse", JSON.writeValueAsString(java.util.Map.of("context", contexts[i])));
                assertEquals(200, d.status());
                assertEquals(topK[i], d.json().get("entropy").asDouble(), 1e-4, "top-k mode compares the top-20 renormalised entropy");
                assertEquals(topK[i] >= tau ? "large" : "small", d.json().get("route").asText(), contexts[i]);
                assertEquals(argmax[i], d.json().get("token").asInt());
                small += topK[i] >= tau ? 0 : 1;
            }
            assertTrue(small > 0 && small < contexts.length, "both routes: " + small + " small");

            // --delimiter: an appended step brings its text plus " ### "
            Reply open = call(port, "POST", "/v1/sessions", "{\"prompt\": \"Count:\"}");
            assertEquals(201, open.status());
            int before = open.json().get("tokens").asInt();
            Reply app = call(port, "POST", "/v1/sessions/" + open.json().get("session").asText() + "/append", "{\"text\": \"one\"}");
            int added;
            try (Model model = Model.load(tiny)) {
                added = model.tokenize("one ### ", false, false).length;
                assertEquals(before, model.tokenize("Count:", true, true).length);
            }
            assertEquals(before + added, app.json().get("tokens").asInt());
            // --max-sessions 2
            Reply second = call(port, "POST", "/v1/sessions", "{\"prompt\": \"two\"}");
            assertEquals(201, second.status());
            assertEquals(503, call(port, "POST", "/v1/sessions", "{\"prompt\": \"three\"}").status());
            assertEquals(503, call(port, "POST", "/v1/glimpse", "{\"context\": \"a one-shot glimpse needs a session slot too\"}").status());
            assertEquals(200, call(port, "DELETE", "/v1/sessions/" + second.json().get("session").asText(), null).status());
            // --max-body 2000 and --max-tokens 100
            assertEquals(413, call(port, "POST", "/v1/glimpse", "{\"context\": \"" + "z".repeat(2100) + "\"}").status());
            assertEquals(413, call(port, "POST", "/v1/glimpse", "{\"context\": \"" + "a b ".repeat(120) + "\"}").status());
            assertEquals(200, call(port, "POST", "/v1/glimpse", "{\"context\": \"" + "a b ".repeat(20) + "\"}").status());
        }
    }
}
