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
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code panscore serve} in its own JVM with the flags {@link ServeCliTest} does not pass, each
 * checked by what the server then does: {@code --mode exact} by the full-vocabulary entropy of the
 * float64 reference and the routes it gives at the threshold, {@code --api-key} by 401 without the
 * key, {@code --served-model-name} by /v1/models, {@code --max-top-logprobs} and
 * {@code --openai-ctx} by the limits the OpenAI API then enforces, {@code --chat-template-file} by
 * the prompt tokens of a chat request (the template rendered by hand), {@code --session-ttl} by an
 * unused session closed and a used one kept, {@code --read-timeout} by 408 for a body that stops
 * short, {@code --idle-timeout} by a silent connection closed by the server.
 */
class ServeFlagsCliTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final String KEY = "s3cret-key";

    record Reply(int status, JsonNode json, String text) {}

    static Reply call(int port, String method, String path, String body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).header("Content-Type", "application/json");
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body().startsWith("{") ? JSON.readTree(r.body()) : null, r.body());
    }

    @Test
    void exactModeApiKeyOpenAiLimitsTemplateAndTimeouts(@TempDir Path dir) throws Exception {
        // a chat template unlike the model's own, rendered here by hand for one user message
        Path template = Files.writeString(dir.resolve("t.jinja"),
                "{% for m in messages %}<<{{ m.role }}>> {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<<assistant>> {% endif %}");
        String rendered = "<<user>> Count to three.\n<<assistant>> ";
        int renderedTokens;
        Path tiny = Fixtures.tiny();
        String[] contexts = {"Count: one", "Once upon a time", "The quick brown fox", "1 2 3 4", "<|im_start|>user\nHi<|im_end|>\n"};
        double[] exact = new double[contexts.length];
        double[] topK = new double[contexts.length];
        int longPrompt;
        String longText = "one two three four five six seven eight nine ten ".repeat(10);
        try (Model model = Model.load(tiny); Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            for (int i = 0; i < contexts.length; i++) {
                ReferenceKernel.Stats ref = Independent.next(scratch, model.tokenize(contexts[i], true, true), GlimpRouter.TOP_K);
                exact[i] = ref.entropy(); // the full-vocabulary entropy, float64
                topK[i] = Independent.renormalisedEntropy(ref.topLogprobs());
            }
            longPrompt = model.tokenize(longText, true, false).length;
            renderedTokens = model.tokenize(rendered, false, true).length;
        }
        // tau in the widest gap between the exact entropies: some contexts route small, some large
        double[] sorted = exact.clone();
        Arrays.sort(sorted);
        int gap = 0;
        for (int i = 1; i + 1 < sorted.length; i++) {
            gap = sorted[i + 1] - sorted[i] > sorted[gap + 1] - sorted[gap] ? i : gap;
        }
        assertTrue(sorted[gap + 1] - sorted[gap] > 2e-3, Arrays.toString(sorted));
        double tau = (sorted[gap] + sorted[gap + 1]) / 2;
        assertTrue(longPrompt > 64, "the long prompt must exceed --openai-ctx 64: " + longPrompt);

        try (ServeProcess serve = ServeProcess.start(List.of("--model", tiny.toString(), "--port", "0", "--host", "127.0.0.1",
                "--threshold", Double.toString(tau), "--mode", "exact", "--api-key", KEY, "--served-model-name", "tiny-under-test",
                "--max-top-logprobs", "3", "--openai-ctx", "64", "--max-generations", "1", "--chat-template-file", template.toString(), "--session-ttl", "2",
                "--read-timeout", "1", "--idle-timeout", "3", "--ctx", "512", "--threads", "1", "--gpu-layers", "0"))) {
            int port = serve.port();

            // --api-key: /health is open, everything else needs the key
            Reply health = call(port, "GET", "/health", null, null);
            assertEquals(200, health.status());
            assertEquals("exact", health.json().get("mode").asText());
            assertEquals(tau, health.json().get("threshold").asDouble(), 0);
            String body0 = JSON.writeValueAsString(Map.of("context", contexts[0]));
            assertEquals(401, call(port, "POST", "/v1/glimpse", body0, null).status());
            assertEquals(401, call(port, "POST", "/v1/glimpse", body0, KEY + "x").status());
            assertEquals(401, call(port, "GET", "/v1/models", null, null).status());

            // --mode exact: the full-vocabulary entropy, compared with tau
            int small = 0;
            for (int i = 0; i < contexts.length; i++) {
                Reply d = call(port, "POST", "/v1/glimpse", JSON.writeValueAsString(Map.of("context", contexts[i])), KEY);
                assertEquals(200, d.status(), d.text());
                assertEquals("exact", d.json().get("mode").asText());
                double got = d.json().get("entropy").asDouble();
                assertEquals(exact[i], got, 1e-4, contexts[i] + ": exact mode is the full-vocabulary entropy");
                assertTrue(Math.abs(got - topK[i]) > 0.1, contexts[i] + ": not the top-20 renormalised entropy " + topK[i]);
                assertEquals(exact[i] >= tau ? "large" : "small", d.json().get("route").asText(), contexts[i]);
                small += exact[i] >= tau ? 0 : 1;
            }
            assertTrue(small > 0 && small < contexts.length, "both routes: " + small + " small");

            // --served-model-name
            Reply models = call(port, "GET", "/v1/models", null, KEY);
            assertEquals(200, models.status(), models.text());
            assertEquals("tiny-under-test", models.json().get("data").get(0).get("id").asText());

            // --max-top-logprobs 3: 3 accepted (3 or 4 entries with the token itself), 4 refused
            String echo = "{\"prompt\": \"Once upon a time\", \"echo\": true, \"max_tokens\": 0, \"logprobs\": %d}";
            Reply three = call(port, "POST", "/v1/completions", String.format(echo, 3), KEY);
            assertEquals(200, three.status(), three.text());
            JsonNode top = three.json().get("choices").get(0).get("logprobs").get("top_logprobs");
            for (int i = 1; i < top.size(); i++) {
                assertTrue(top.get(i).size() >= 3 && top.get(i).size() <= 4, top.get(i).toString());
            }
            Reply four = call(port, "POST", "/v1/completions", String.format(echo, 4), KEY);
            assertEquals(400, four.status(), four.text());
            assertTrue(four.text().contains("logprobs") && four.text().contains("3"), four.text());

            // --openai-ctx 64: a prompt of more tokens does not fit the scoring context
            Reply tooLong = call(port, "POST", "/v1/completions",
                    "{\"prompt\": " + JSON.writeValueAsString(longText) + ", \"echo\": true, \"max_tokens\": 0, \"logprobs\": 0}", KEY);
            assertEquals(400, tooLong.status(), tooLong.text());
            assertTrue(tooLong.text().contains(longPrompt + " tokens") && tooLong.text().contains("64"), tooLong.text());

            // --chat-template-file: the messages rendered with it (no special tokens added)
            Reply chat = call(port, "POST", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Count to three.\"}], \"max_tokens\": 1}", KEY);
            assertEquals(200, chat.status(), chat.text());
            assertEquals(renderedTokens, chat.json().get("usage").get("prompt_tokens").asInt(), "prompt tokens of " + rendered);

            // --session-ttl 2: a session used every 0.5 s stays open, an unused one is closed
            String unused = call(port, "POST", "/v1/sessions", "{\"prompt\": \"Once\"}", KEY).json().get("session").asText();
            String used = call(port, "POST", "/v1/sessions", "{\"prompt\": \"Once\"}", KEY).json().get("session").asText();
            long start = System.nanoTime();
            while (System.nanoTime() - start < 3_500_000_000L) {
                Thread.sleep(500);
                assertEquals(200, call(port, "POST", "/v1/sessions/" + used + "/append", "{\"text\": \" a\"}", KEY).status());
            }
            assertEquals(404, call(port, "POST", "/v1/sessions/" + unused + "/append", "{\"text\": \" a\"}", KEY).status(), "closed after 2 s unused");
            assertEquals(200, call(port, "POST", "/v1/sessions/" + used + "/append", "{\"text\": \" a\"}", KEY).status());

            // --read-timeout 1: a body that stops short of its Content-Length gets 408
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(30_000);
                OutputStream o = s.getOutputStream();
                o.write(("POST /v1/glimpse HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY
                        + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"context\"").getBytes(StandardCharsets.US_ASCII));
                o.flush();
                String status = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                assertTrue(status != null && status.startsWith("HTTP/1.1 408"), String.valueOf(status));
            }
            // --idle-timeout 3: a connection that sends nothing is closed by the server (end of stream, not our 30 s timeout)
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(30_000);
                InputStream i = s.getInputStream();
                assertEquals(-1, i.read(), "the server closes the silent connection");
            }
        }
    }
}
