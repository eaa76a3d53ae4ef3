package io.panscore.api.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue #13 items 1, 2 and 9: the sidecar against hostile and careless clients. */
class RouterServerHardeningTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static Model model;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.tiny());
    }

    @AfterAll
    static void free() {
        model.close();
    }

    /** A router and its server, closed together. */
    record Sidecar(GlimpRouter router, RouterServer server) implements AutoCloseable {
        static Sidecar start(GlimpRouter.Builder b, ServerOptions o) throws Exception {
            RouterMetrics metrics = new RouterMetrics();
            GlimpRouter router = b.listener(metrics).build();
            return new Sidecar(router, RouterServer.start(router, o.withPort(0), metrics));
        }

        @Override
        public void close() throws Exception {
            server.close();
            router.close();
        }

        Reply call(String method, String path, String body, String... headers) throws Exception {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).timeout(Duration.ofSeconds(60));
            b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
            for (int i = 0; i < headers.length; i += 2) {
                b.header(headers[i], headers[i + 1]);
            }
            HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = r.headers().firstValue("content-type").orElse("").startsWith("application/json") ? JSON.readTree(r.body()) : null;
            return new Reply(r.statusCode(), json, r.body(), r);
        }
    }

    record Reply(int status, JsonNode json, String text, HttpResponse<String> raw) {}

    private static String tokens(int n) {
        int[] t = new int[n];
        Arrays.fill(t, model.tokenize("a", false, false)[0]);
        return "{\"tokens\": " + Arrays.toString(t) + "}";
    }

    @Test
    void sessionIdsAreRandomAndCannotBeGuessed() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(4).contextSize(512), ServerOptions.defaults())) {
            Set<String> ids = new TreeSet<>();
            for (int i = 0; i < 2; i++) {
                Reply open = s.call("POST", "/v1/sessions", "{\"prompt\": \"hello\"}");
                assertEquals(201, open.status(), open.text());
                ids.add(open.json().get("session").asText());
            }
            assertEquals(2, ids.size());
            for (String id : ids) {
                assertTrue(id.matches("[0-9a-f]{32}"), id);
            }
            for (String guess : List.of("1", "2", "0", "00000000000000000000000000000001")) {
                assertEquals(404, s.call("POST", "/v1/sessions/" + guess + "/append", "{\"text\": \"x\"}").status());
                assertEquals(404, s.call("DELETE", "/v1/sessions/" + guess, null).status());
            }
            assertEquals(2, s.router().openSessions());
        }
    }

    @Test
    void anApiKeyIsRequiredWhenSet() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(2).contextSize(256), ServerOptions.defaults().withApiKey("s3cret"))) {
            Reply none = s.call("POST", "/v1/glimpse", "{\"context\": \"hi\"}");
            assertEquals(401, none.status());
            assertEquals("unauthorized", none.json().get("type").asText());
            assertEquals("Bearer", none.raw().headers().firstValue("www-authenticate").orElse(""));
            assertEquals(401, s.call("POST", "/v1/glimpse", "{\"context\": \"hi\"}", "Authorization", "Bearer wrong").status());
            assertEquals(401, s.call("GET", "/metrics", null).status());
            assertEquals(200, s.call("POST", "/v1/glimpse", "{\"context\": \"hi\"}", "Authorization", "Bearer s3cret").status());
            assertEquals(200, s.call("GET", "/health", null).status(), "health stays open for probes");
        }
    }

    @Test
    void idleSessionsExpire() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(2).contextSize(256), ServerOptions.defaults().withSessionTtlMs(300))) {
            String id = s.call("POST", "/v1/sessions", "{\"prompt\": \"hello\"}").json().get("session").asText();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (s.router().openSessions() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(0, s.router().openSessions(), "the idle session was closed");
            assertEquals(404, s.call("POST", "/v1/sessions/" + id + "/glimpse", null).status());
        }
    }

    @Test
    void oneClientCannotTakeEverySession() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(8).contextSize(512), ServerOptions.defaults())) {
            List<String> mine = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Reply r = s.call("POST", "/v1/sessions", "{\"prompt\": \"mine\"}");
                assertEquals(201, r.status(), r.text());
                mine.add(r.json().get("session").asText());
            }
            Reply fifth = s.call("POST", "/v1/sessions", "{\"prompt\": \"mine\"}");
            assertEquals(429, fifth.status(), "default quota: half of the 8 sessions");
            assertEquals("quota", fifth.json().get("type").asText());
            assertEquals(429, s.call("POST", "/v1/sessions/" + mine.getFirst() + "/fork", null).status());
            Reply other = s.call("POST", "/v1/sessions", "{\"prompt\": \"theirs\"}", "X-Client-Id", "other-client");
            assertEquals(201, other.status(), other.text());
            assertEquals(200, s.call("DELETE", "/v1/sessions/" + mine.getFirst(), null).status());
            assertEquals(201, s.call("POST", "/v1/sessions", "{\"prompt\": \"mine again\"}").status());
        }
    }

    @Test
    void anIdleSessionDoesNotMakeOtherGlimpsesFail() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(3).contextSize(256).oneShotReserve(1, 64),
                ServerOptions.defaults().withMaxSessionsPerClient(0))) {
            Reply idle = s.call("POST", "/v1/sessions", tokens(190));
            assertEquals(201, idle.status(), idle.text());
            String id = idle.json().get("session").asText();
            assertEquals(200, s.call("POST", "/v1/sessions/" + id + "/glimpse", null).status());
            Reply second = s.call("POST", "/v1/sessions", tokens(60));
            assertEquals(503, second.status(), "the session that would overfill the cache is refused at open: " + second.text());
            assertEquals("1", second.raw().headers().firstValue("retry-after").orElse(""));
            Reply oneShot = s.call("POST", "/v1/glimpse", tokens(40));
            assertEquals(200, oneShot.status(), oneShot.text());
            assertEquals(200, s.call("POST", "/v1/sessions/" + id + "/glimpse", null).status());
        }
    }

    @Test
    void onlyJsonBodiesAreAccepted() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(2).contextSize(256), ServerOptions.defaults())) {
            for (String type : List.of("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")) {
                Reply r = s.call("POST", "/v1/glimpse", "{\"context\": \"hi\"}", "Content-Type", type);
                assertEquals(415, r.status(), type);
                assertEquals("unsupported_media_type", r.json().get("type").asText());
            }
            assertEquals(200, s.call("POST", "/v1/glimpse", "{\"context\": \"hi\"}", "Content-Type", "application/json; charset=utf-8").status());
            assertEquals(200, s.call("POST", "/v1/glimpse", "{\"context\": \"hi\"}").status(), "no Content-Type: taken as JSON");
            assertEquals(0, s.router().openSessions());
        }
    }

    @Test
    void metricsLabelsStayBoundedWhateverThePaths() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(2).contextSize(256), ServerOptions.defaults())) {
            Random rnd = new Random(7);
            for (int i = 0; i < 300; i++) {
                String junk = Long.toHexString(rnd.nextLong());
                String path = switch (i % 3) {
                    case 0 -> "/" + junk;
                    case 1 -> "/v1/sessions/" + junk + "/" + junk;
                    default -> "/v1/sessions/" + junk + "/glimpse/" + junk;
                };
                assertTrue(s.call("GET", path, null).status() >= 400);
            }
            String text = s.call("GET", "/metrics", null).text();
            Matcher m = Pattern.compile("panscore_http_requests_total\\{endpoint=\"([^\"]*)\"").matcher(text);
            Set<String> endpoints = new TreeSet<>();
            int series = 0;
            while (m.find()) {
                endpoints.add(m.group(1));
                series++;
            }
            assertTrue(endpoints.size() <= 7 && series <= 20, series + " series, endpoints " + endpoints);
            assertTrue(endpoints.contains("other"), endpoints.toString());
        }
    }

    @Test
    void slowBodiesHoldNoThreadAndTimeOut() throws Exception {
        try (Sidecar s = Sidecar.start(GlimpRouter.builder(model).maxSessions(2).contextSize(256), ServerOptions.defaults().withReadTimeoutMs(3000))) {
            List<Socket> slow = new ArrayList<>();
            try {
                for (int i = 0; i < 70; i++) {
                    Socket c = new Socket("127.0.0.1", s.server().port());
                    OutputStream o = c.getOutputStream();
                    o.write(("POST /v1/glimpse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
                            .getBytes(StandardCharsets.US_ASCII));
                    o.flush();
                    slow.add(c);
                }
                // 70 stalled bodies, more than the 64 server threads: health must still answer
                Reply health = s.call("GET", "/health", null);
                assertEquals(200, health.status());
                Reply work = s.call("POST", "/v1/glimpse", "{\"context\": \"still working\"}");
                assertEquals(200, work.status(), work.text());
                // and a stalled body gets 408 once the read timeout is over
                Socket first = slow.getFirst();
                first.setSoTimeout(60_000);
                InputStream in = first.getInputStream();
                String head = new String(in.readNBytes(12), StandardCharsets.US_ASCII);
                assertEquals("HTTP/1.1 408", head);
            } finally {
                for (Socket c : slow) {
                    c.close();
                }
            }
        }
    }
}
