package io.panscore.api.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.api.Independent;
import io.panscore.api.SharedModels;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.router.LocalStepWriter;
import io.panscore.api.router.RouteOptions;
import io.panscore.api.router.RoutePolicy;
import io.panscore.api.router.RoutedTrace;
import io.panscore.api.router.RoutingLoop;
import io.panscore.api.router.StepWriter;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/route}: the routing loop over HTTP. Successes checked against values from
 * elsewhere (the first glimpse's entropy against the float64 reference, each decision against τ,
 * the random policy against {@link java.util.Random} with the seed, token sums and fractions
 * recomputed from the steps, the same problem routed in process by {@link RoutingLoop}); every
 * error status with its type.
 */
class RouteEndpointTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    static final String PROMPT = "Tom had a red ball. What did Tom do?";
    static final double TAU = 1.0;
    static final int BODY = 4000;
    static final int PROMPT_TOKENS = 120;
    static final int ROUTE_TOKENS = 300;

    static Model small;
    static Model large;
    static Engine scratch;
    static GlimpRouter router;
    static LocalStepWriter local;
    static Switch writer;
    static RouterServer server;
    static GlimpRouter keyedRouter;
    static RouterServer keyed;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    /** The large model as the tests need it: the local fixture model, a failing endpoint, or a gate that holds a step. */
    static final class Switch implements StepWriter {
        volatile String mode = "local";
        volatile CountDownLatch entered = new CountDownLatch(1);
        volatile CountDownLatch release = new CountDownLatch(0);

        @Override
        public Conversation open(List<ChatMessage> messages) {
            Conversation c = local.open(messages);
            return new Conversation() {
                @Override
                public Written write(List<String> steps, Request request) {
                    if (mode.equals("fail")) {
                        throw new UncheckedIOException(new java.io.IOException("connection refused (test)"));
                    }
                    if (mode.equals("gate")) {
                        entered.countDown();
                        try {
                            release.await(60, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return c.write(steps, request);
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        }

        @Override
        public String name() {
            return "switch";
        }

        @Override
        public void close() {}
    }

    @BeforeAll
    static void start() throws Exception {
        small = Model.load(SharedModels.stories260K());
        large = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7), CHATML));
        scratch = small.newEngine(EngineOptions.defaults().withContextSize(512));
        RouterMetrics metrics = new RouterMetrics();
        router = GlimpRouter.builder(small).template(PromptTemplate.named("chatml")).threshold(TAU).contextSize(2048).maxSessions(4).listener(metrics).build();
        local = new LocalStepWriter(large, PromptTemplate.model(), 2, 2048);
        writer = new Switch();
        RouteOptions defaults = RouteOptions.defaults().withMaxStepTokens(5).withMaxTotalTokens(15).withMaxAnswerTokens(3);
        server = RouterServer.start(router, ServerOptions.defaults().withPort(0).withMaxBodyBytes(BODY).withMaxTokens(PROMPT_TOKENS).withMaxSessionsPerClient(1)
                .withReadTimeoutMs(1500), metrics, List.of(), new RouteEndpoint(router, writer, defaults, 1, ROUTE_TOKENS));
        RouterMetrics m2 = new RouterMetrics();
        keyedRouter = GlimpRouter.builder(small).template(PromptTemplate.named("chatml")).contextSize(256).maxSessions(2).listener(m2).build();
        keyed = RouterServer.start(keyedRouter, ServerOptions.defaults().withPort(0).withApiKey("sesame"), m2, List.of());
    }

    @AfterAll
    static void stop() throws Exception {
        keyed.close();
        keyedRouter.close();
        server.close();
        local.close();
        router.close();
        scratch.close();
        large.close();
        small.close();
    }

    record Reply(int status, JsonNode json, String text, HttpResponse<String> raw) {}

    static Reply call(RouterServer s, String method, String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = r.headers().firstValue("content-type").orElse("").startsWith("application/json") ? JSON.readTree(r.body()) : null;
        return new Reply(r.statusCode(), json, r.body(), r);
    }

    static Reply route(String body, String... headers) throws Exception {
        return call(server, "POST", "/v1/route", body, headers);
    }

    /** The trace's sums and fractions recomputed from its steps; returns the models in order. */
    static List<String> checkSums(JsonNode t) {
        long smallTokens = 0;
        long largeTokens = 0;
        int larges = 0;
        List<String> models = new ArrayList<>();
        for (JsonNode s : t.path("steps")) {
            String m = s.path("model").asText();
            models.add(m);
            assertTrue(m.equals("small") || m.equals("large"), s.toString());
            assertTrue(s.path("text").isTextual() && s.path("ms").asDouble() >= 0, s.toString());
            if (m.equals("large")) {
                larges++;
                largeTokens += s.path("tokens").asInt();
            } else {
                smallTokens += s.path("tokens").asInt();
            }
        }
        assertEquals(smallTokens, t.path("small_tokens").asLong());
        assertEquals(largeTokens, t.path("large_tokens").asLong());
        assertEquals(larges / (double) models.size(), t.path("large_step_fraction").asDouble(), 1e-12);
        assertEquals(largeTokens / (double) (smallTokens + largeTokens), t.path("large_token_fraction").asDouble(), 1e-12);
        assertTrue(t.path("wall_ms").asDouble() > 0);
        return models;
    }

    static String untimed(JsonNode t) {
        ObjectNode o = t.deepCopy();
        o.remove("wall_ms");
        for (JsonNode s : o.path("steps")) {
            ((ObjectNode) s).remove("ms");
        }
        return o.toString();
    }

    /**
     * GLIMP with a τ between the entropies the problem shows: both models write steps, each as its
     * glimpse's entropy says; the first glimpse's entropy is the float64 reference's top-20
     * renormalised entropy of the prompt; the trace equals the same problem routed in process.
     */
    @Test
    void glimpTracesFollowTheEntropyAndEqualTheInProcessLoop() throws Exception {
        String base = "{\"prompt\": \"" + PROMPT + "\", \"seed\": 5, \"max_step_tokens\": 6, \"max_total_tokens\": 36, \"max_answer_tokens\": 4";
        Reply all = route(base + ", \"threshold\": 1e6}");
        assertEquals(200, all.status(), all.text());
        double[] h = new double[all.json().path("steps").size()];
        for (int i = 0; i < h.length; i++) {
            h[i] = all.json().path("steps").get(i).path("entropy").asDouble();
        }
        assertEquals(List.of("small"), checkSums(all.json()).stream().distinct().toList());
        int[] prompt = small.tokenize(router.renderChat(List.of(new ChatMessage("user", PROMPT))), true, true);
        ReferenceKernel.Stats ref = Independent.next(scratch, prompt, GlimpRouter.TOP_K);
        assertEquals(Independent.renormalisedEntropy(ref.topLogprobs()), h[0], 1e-4, "the first glimpse reads the prompt");
        double[] sorted = h.clone();
        java.util.Arrays.sort(sorted);
        assertTrue(sorted.length >= 4, "steps: " + sorted.length);
        double tau = (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;

        Reply r = route(base + ", \"threshold\": " + tau + "}");
        assertEquals(200, r.status(), r.text());
        JsonNode t = r.json();
        assertEquals("glimp", t.path("policy").asText());
        assertEquals(tau, t.path("threshold").asDouble(), 0);
        List<String> models = checkSums(t);
        assertTrue(models.contains("small") && models.contains("large"), "both decisions: " + t);
        for (JsonNode s : t.path("steps")) {
            assertEquals(s.path("entropy").asDouble() >= tau, s.path("model").asText().equals("large"), s.toString());
            assertTrue(s.path("tokens").asInt() >= 1 && s.path("tokens").asInt() <= 6, s.toString());
        }
        assertEquals("max_total_tokens", t.path("stop_reason").asText());
        assertTrue(t.path("small_tokens").asLong() + t.path("large_tokens").asLong() >= 36);
        assertTrue(t.path("answer").isTextual() && t.path("answer_tokens").asInt() >= 1 && t.path("answer_tokens").asInt() <= 4, t.toString());

        RouteOptions o = RouteOptions.defaults().withSeed(5).withMaxStepTokens(6).withMaxTotalTokens(36).withMaxAnswerTokens(4);
        RoutedTrace direct;
        try (RoutingLoop loop = new RoutingLoop(router, local, o)) {
            direct = loop.route(List.of(new ChatMessage("user", PROMPT)), o, tau);
        }
        assertEquals(direct.steps().stream().map(RoutedTrace.Step::text).toList(), texts(t));
        assertEquals(direct.steps().stream().map(RoutedTrace.Step::model).toList(), models);
        assertEquals(direct.answer(), t.path("answer").asText());
        assertEquals(untimed(t), untimed(route(base + ", \"threshold\": " + tau + "}").json()), "seeded: the same trace again");
    }

    static List<String> texts(JsonNode t) {
        List<String> out = new ArrayList<>();
        t.path("steps").forEach(s -> out.add(s.path("text").asText()));
        return out;
    }

    /** The baselines: small and large write every step without a glimpse; random follows java.util.Random(seed) at the fraction. */
    @Test
    void policiesSmallLargeAndRandom() throws Exception {
        String base = "{\"messages\": [{\"role\": \"user\", \"content\": \"" + PROMPT + "\"}], \"max_step_tokens\": 4, \"max_total_tokens\": 20, \"max_answer_tokens\": 0";
        for (String p : List.of("small", "large")) {
            Reply r = route(base + ", \"policy\": \"" + p + "\", \"seed\": 2}");
            assertEquals(200, r.status(), r.text());
            assertEquals(p, r.json().path("policy").asText());
            assertTrue(r.json().path("threshold").isMissingNode(), "no threshold outside glimp");
            assertEquals(List.of(p), checkSums(r.json()).stream().distinct().toList());
            r.json().path("steps").forEach(s -> assertTrue(s.path("entropy").isNull(), "no glimpse: " + s));
            assertTrue(r.json().path("answer").isMissingNode(), "max_answer_tokens 0: no answer");
        }
        Reply r = route(base + ", \"policy\": \"random\", \"large_fraction\": 0.5, \"seed\": 21, \"temperature\": 0, \"top_p\": 1}");
        assertEquals(200, r.status(), r.text());
        List<String> models = checkSums(r.json());
        Random coin = new Random(21);
        for (String m : models) {
            assertEquals(coin.nextDouble() < 0.5 ? "large" : "small", m, models.toString());
        }
        Reply other = route(base + ", \"policy\": \"random\", \"large_fraction\": 0.5, \"seed\": 22, \"temperature\": 0, \"top_p\": 1}");
        assertNotEquals(untimed(r.json()), untimed(other.json()), "another seed, another trace");
    }

    /** A request with the problem alone takes the endpoint's defaults and the router's τ. */
    @Test
    void defaultsAreTheEndpointsAndTheRoutersTau() throws Exception {
        Reply r = route("{\"prompt\": \"" + PROMPT + "\"}");
        assertEquals(200, r.status(), r.text());
        JsonNode t = r.json();
        assertEquals("glimp", t.path("policy").asText());
        assertEquals(TAU, t.path("threshold").asDouble(), 0);
        checkSums(t);
        for (JsonNode s : t.path("steps")) {
            assertTrue(s.path("tokens").asInt() <= 5, s.toString());
            assertEquals(s.path("entropy").asDouble() >= TAU, s.path("model").asText().equals("large"), s.toString());
        }
        assertTrue(t.path("answer_tokens").asInt() >= 1 && t.path("answer_tokens").asInt() <= 3, t.toString());
        // the end of thinking, taken from the first run's second step, ends the second run there
        assertTrue(t.path("steps").size() >= 3, t.toString());
        String marker = t.path("steps").get(1).path("text").asText();
        assertTrue(!marker.isEmpty() && !t.path("steps").get(0).path("text").asText().contains(marker), t.toString());
        Reply e = route(JSON.createObjectNode().put("prompt", PROMPT).put("end_of_thinking", marker).toString());
        assertEquals("end_of_thinking", e.json().path("stop_reason").asText(), e.text());
        assertEquals(texts(t).subList(0, 2), texts(e.json()));
    }

    @Test
    void everyErrorStatusWithItsType() throws Exception {
        String ok = "\"prompt\": \"" + PROMPT + "\"";
        // 400: the problem, a field's type or range, an unknown field
        expect(400, "bad_request", route("{}"), "\"prompt\"");
        expect(400, "bad_request", route("[1]"), "JSON object");
        expect(400, "bad_request", route("{\"prompt\": 7}"), "non-empty string");
        expect(400, "bad_request", route("{\"prompt\": \"  \"}"), "non-empty string");
        expect(400, "bad_request", route("{\"messages\": []}"), "non-empty array");
        expect(400, "bad_request", route("{\"messages\": [{\"role\": \"user\"}]}"), "messages[0]");
        expect(400, "bad_request", route("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], " + ok + "}"), "not both");
        expect(400, "bad_request", route("{" + ok + ", \"policy\": \"oracle\"}"), "glimp, small, large or random");
        expect(400, "bad_request", route("{" + ok + ", \"policy\": 3}"), "\"policy\" must be a string");
        expect(400, "bad_request", route("{" + ok + ", \"threshold\": \"high\"}"), "\"threshold\"");
        expect(400, "bad_request", route("{" + ok + ", \"large_fraction\": 1.5}"), "\"large_fraction\" must be a number in [0, 1]");
        expect(400, "bad_request", route("{" + ok + ", \"seed\": -1}"), "\"seed\"");
        expect(400, "bad_request", route("{" + ok + ", \"seed\": 1.5}"), "\"seed\"");
        expect(400, "bad_request", route("{" + ok + ", \"temperature\": -0.1}"), "\"temperature\"");
        expect(400, "bad_request", route("{" + ok + ", \"top_p\": 0}"), "\"top_p\"");
        expect(400, "bad_request", route("{" + ok + ", \"max_step_tokens\": 0}"), "\"max_step_tokens\"");
        expect(400, "bad_request", route("{" + ok + ", \"max_answer_tokens\": -1}"), "\"max_answer_tokens\"");
        expect(400, "bad_request", route("{" + ok + ", \"end_of_thinking\": \"\"}"), "\"end_of_thinking\"");
        expect(400, "bad_request", route("{" + ok + ", \"treshold\": 1}"), "unknown field \"treshold\"");
        expect(400, "bad_request", route("{" + ok), "not valid JSON");
        // 405, 415
        expect(405, "method_not_allowed", call(server, "GET", "/v1/route", null), "use POST");
        expect(415, "unsupported_media_type", route("{" + ok + "}", "Content-Type", "text/plain"), "JSON");
        // 413: the body, the prompt's tokens, the token budget asked
        expect(413, "too_large", route("{\"prompt\": \"" + "x".repeat(BODY) + "\"}"), "limit of " + BODY);
        Reply longPrompt = route("{\"prompt\": \"" + "Tom ran. ".repeat(40) + "\"}");
        expect(413, "too_large", longPrompt, "limit of " + PROMPT_TOKENS);
        int tokens = small.tokenize(router.renderChat(List.of(new ChatMessage("user", "Tom ran. ".repeat(40)))), true, true).length;
        assertTrue(longPrompt.json().path("error").asText().contains("has " + tokens + " tokens"), longPrompt.text());
        expect(413, "too_large", route("{" + ok + ", \"max_total_tokens\": 200, \"max_step_tokens\": 80, \"max_answer_tokens\": 21}"),
                "= 301 tokens, more than this server's limit of " + ROUTE_TOKENS);
        assertEquals(200, route("{" + ok + ", \"max_total_tokens\": 8, \"max_step_tokens\": 4, \"max_answer_tokens\": 0}").status(), "within the limits");
        // 502: the large model's endpoint fails
        writer.mode = "fail";
        try {
            expect(502, "upstream", route("{" + ok + ", \"policy\": \"large\"}"), "the large model failed: ");
            assertEquals(200, route("{" + ok + ", \"policy\": \"small\", \"max_answer_tokens\": 0}").status(), "the small model alone still routes");
        } finally {
            writer.mode = "local";
        }
        // 429 (the client's quota of 1 is held by a running route) and 503 (the one concurrent route is running)
        writer.entered = new CountDownLatch(1);
        writer.release = new CountDownLatch(1);
        writer.mode = "gate";
        CompletableFuture<Reply> held;
        try {
            held = CompletableFuture.supplyAsync(() -> {
                try {
                    return route("{" + ok + ", \"policy\": \"large\"}", "X-Client-Id", "alice");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(writer.entered.await(60, TimeUnit.SECONDS), "the first route reached the large model");
            expect(429, "quota", route("{" + ok + "}", "X-Client-Id", "alice"), "quota");
            Reply busy = route("{" + ok + "}", "X-Client-Id", "bob");
            expect(503, "capacity", busy, "concurrent routes");
            assertEquals("1", busy.raw().headers().firstValue("retry-after").orElse(""));
        } finally {
            writer.release.countDown();
        }
        Reply first = held.get(120, TimeUnit.SECONDS);
        writer.mode = "local";
        assertEquals(200, first.status(), first.text());
        assertEquals(200, route("{" + ok + ", \"max_answer_tokens\": 0}", "X-Client-Id", "alice").status(), "the quota is free again");
        // 408: a body that stalls
        try (Socket c = new Socket("127.0.0.1", server.port())) {
            OutputStream o = c.getOutputStream();
            o.write("POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{".getBytes(StandardCharsets.US_ASCII));
            o.flush();
            c.setSoTimeout(60_000);
            InputStream in = c.getInputStream();
            assertEquals("HTTP/1.1 408", new String(in.readNBytes(12), StandardCharsets.US_ASCII));
        }
        // 401 without the key, 404 on a server that has no large model
        expect(401, "unauthorized", call(keyed, "POST", "/v1/route", "{" + ok + "}"), "API key");
        expect(404, "not_found", call(keyed, "POST", "/v1/route", "{" + ok + "}", "Authorization", "Bearer sesame"), "--large");
        // the request counter saw them under the one label
        String metrics = call(server, "GET", "/metrics", null).text();
        for (String status : List.of("200", "400", "405", "413", "415", "429", "502", "503")) {
            assertTrue(count(metrics, "/v1/route", status) >= 1, status + " in " + metrics);
        }
        assertEquals(0, router.openSessions(), "every route closed its session");
    }

    private static void expect(int status, String type, Reply r, String says) {
        assertEquals(status, r.status(), r.text());
        assertEquals(type, r.json().get("type").asText(), r.text());
        assertTrue(r.json().get("error").asText().contains(says), "\"" + says + "\" in " + r.text());
    }

    private static double count(String metrics, String endpoint, String status) {
        Matcher m = Pattern.compile("panscore_http_requests_total\\{endpoint=\"" + Pattern.quote(endpoint) + "\",status=\"" + status + "\"} ([0-9.eE+]+)")
                .matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    /** A route that runs longer than the connection's idle timeout (no bytes move while the loop works) still gets its answer. */
    @Test
    void aRouteLongerThanTheIdleTimeoutStillAnswers() throws Exception {
        StepWriter slow = new StepWriter() {
            @Override
            public Conversation open(List<ChatMessage> messages) {
                return new Conversation() {
                    @Override
                    public Written write(List<String> steps, Request request) {
                        try {
                            Thread.sleep(400);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        return new Written("Step " + steps.size() + ".", 2, "stop");
                    }

                    @Override
                    public void close() {}
                };
            }

            @Override
            public String name() {
                return "slow";
            }

            @Override
            public void close() {}
        };
        RouterMetrics m = new RouterMetrics();
        try (GlimpRouter r = GlimpRouter.builder(small).template(PromptTemplate.named("chatml")).contextSize(512).maxSessions(2).listener(m).build();
                RouterServer s = RouterServer.start(r, ServerOptions.defaults().withPort(0).withIdleTimeoutMs(300), m, List.of(),
                        new RouteEndpoint(r, slow, RouteOptions.defaults(), 1, 10_000))) {
            Reply t = call(s, "POST", "/v1/route", "{\"prompt\": \"Hi\", \"policy\": \"large\", \"max_total_tokens\": 6}");
            assertEquals(200, t.status(), t.text());
            assertEquals(List.of("Step 0.", "Step 1.", "Step 2."), texts(t.json()), "three steps of 2 tokens, 400 ms each, then the answer");
            assertEquals("Step 3.", t.json().path("answer").asText());
        }
    }

    @Test
    void theEndpointChecksItsSettings() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new RouteEndpoint(router, writer, RouteOptions.defaults(), 0, 100));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new RouteEndpoint(router, writer, RouteOptions.defaults(), 1, 0));
    }
}
