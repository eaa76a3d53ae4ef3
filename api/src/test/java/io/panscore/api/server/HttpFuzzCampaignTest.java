package io.panscore.api.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The HTTP campaign of issue #13: {@code -Dcampaign.http.count=N} fuzzed requests (default 400
 * for CI; {@code scripts/campaign-http.sh} sends 10,000) over loopback: random and truncated JSON,
 * wrong types, huge numbers, deep nesting, malformed HTTP, wrong methods, paths and content types,
 * oversized and slow bodies. Every answer must be a 4xx/5xx with a JSON {"error", "type"} (or a
 * 2xx JSON answer when the fuzz happens to be valid), never a 500; afterwards the server must be
 * alive, answer the same glimpse bit for bit, and hold no leaked sessions; RSS is reported.
 */
class HttpFuzzCampaignTest {

    static final ObjectMapper JSON = new ObjectMapper();

    record Answer(int status, String contentType, String body) {}

    static Answer send(int port, byte[] request, int slowAfter, long stallMs) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            OutputStream o = s.getOutputStream();
            if (slowAfter >= 0 && slowAfter < request.length) {
                o.write(request, 0, slowAfter);
                o.flush();
                try {
                    Thread.sleep(stallMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                try {
                    o.write(request, slowAfter, request.length - slowAfter);
                } catch (IOException closed) {
                    // the server gave up on us (408) and may have closed: read its answer
                }
            } else {
                o.write(request);
            }
            o.flush();
            try {
                s.shutdownOutput();
            } catch (IOException ignored) {
                // already closed by the server
            }
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) > 0;) {
                    all.write(buf, 0, n);
                }
            } catch (SocketTimeoutException e) {
                throw new IOException("no answer within 30 s", e);
            } catch (IOException reset) {
                // a reset after the answer was sent
            }
            return parse(all.toString(StandardCharsets.ISO_8859_1));
        }
    }

    static Answer parse(String raw) {
        int headEnd = raw.indexOf("\r\n\r\n");
        if (!raw.startsWith("HTTP/1.") || headEnd < 0) {
            return new Answer(-1, "", raw);
        }
        int status = Integer.parseInt(raw.substring(9, 12));
        String type = "";
        String body = raw.substring(headEnd + 4);
        boolean chunked = false;
        for (String h : raw.substring(0, headEnd).split("\r\n")) {
            String lower = h.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-type:")) {
                type = h.substring(13).trim();
            }
            if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunked = true;
            }
        }
        if (chunked) {
            StringBuilder b = new StringBuilder();
            int p = 0;
            while (p < body.length()) {
                int eol = body.indexOf("\r\n", p);
                if (eol < 0) {
                    break;
                }
                int n = Integer.parseInt(body.substring(p, eol).trim().split(";")[0], 16);
                if (n == 0) {
                    break;
                }
                b.append(body, eol + 2, Math.min(body.length(), eol + 2 + n));
                p = eol + 2 + n + 2;
            }
            body = b.toString();
        }
        return new Answer(status, type, new String(body.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8));
    }

    static byte[] http(String method, String path, String contentType, byte[] body, boolean declareLength, String... extra) {
        StringBuilder h = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (contentType != null) {
            h.append("Content-Type: ").append(contentType).append("\r\n");
        }
        if (declareLength) {
            h.append("Content-Length: ").append(body.length).append("\r\n");
        }
        for (String e : extra) {
            h.append(e).append("\r\n");
        }
        h.append("\r\n");
        byte[] head = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    private static final String[] VALID = {"{\"context\": \"Once upon a time\"}", "{\"prompt\": \"Hello\"}", "{\"text\": \"a step\"}",
        "{\"tokens\": [1, 2, 3]}", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"};

    /** One fuzzed request: its bytes, whether to send it slowly, and what it is. */
    record Fuzz(byte[] bytes, int slowAfter, String kind) {}

    static Fuzz fuzz(Random r, List<String> sessionIds) {
        String session = sessionIds.isEmpty() ? "x" : sessionIds.get(r.nextInt(sessionIds.size()));
        String[] paths = {"/v1/glimpse", "/v1/sessions", "/v1/sessions/" + session + "/append", "/v1/sessions/" + session + "/glimpse",
            "/v1/sessions/" + session + "/fork"};
        String path = paths[r.nextInt(paths.length)];
        String valid = VALID[r.nextInt(VALID.length)];
        int k = r.nextInt(100);
        String json = "application/json";
        if (k < 12) { // random bytes
            byte[] b = new byte[r.nextInt(300)];
            r.nextBytes(b);
            return new Fuzz(http("POST", path, json, b, true), -1, "random-bytes");
        }
        if (k < 24) { // truncated JSON
            String t = valid.substring(0, r.nextInt(valid.length()));
            return new Fuzz(http("POST", path, json, t.getBytes(StandardCharsets.UTF_8), true), -1, "truncated-json");
        }
        if (k < 40) { // wrong types and huge numbers
            String[] bad = {"{\"context\": 5}", "{\"context\": null}", "{\"context\": [\"a\"]}", "{\"tokens\": \"abc\"}", "{\"tokens\": [1.5]}",
                "{\"tokens\": [1e400]}", "{\"tokens\": [99999999999999999999999]}", "{\"tokens\": [-1]}", "{\"tokens\": [2147483648]}",
                "{\"tokens\": [true]}", "{\"tokens\": [[1]]}", "{\"tokens\": []}", "{\"messages\": {}}", "{\"messages\": [{\"role\": 1}]}",
                "{\"messages\": [1, 2]}", "{\"messages\": []}", "{\"text\": 12}", "{\"prompt\": {\"a\": 1}}", "[]", "\"string\"", "12",
                "null", "{\"context\": \"\"}", "{\"context\": \"\\ud800\"}", "{\"tokens\": [" + "1,".repeat(5000) + "1]}",
                "{\"context\": \"" + "word ".repeat(3000) + "\"}", "{\"a\": 1e99999999}", "{\"a\": " + "9".repeat(5000) + "}",
                "{\"context\": \"x\", \"context\": 5}", "{\"prompt\": \"x\"} trailing"};
            return new Fuzz(http("POST", path, json, bad[r.nextInt(bad.length)].getBytes(StandardCharsets.UTF_8), true), -1, "wrong-types");
        }
        if (k < 48) { // deep nesting
            int depth = 100 + r.nextInt(20_000);
            String open = r.nextBoolean() ? "[" : "{\"a\":";
            String close = open.equals("[") ? "]" : "}";
            String body = open.repeat(depth) + "1" + close.repeat(r.nextInt(3) == 0 ? depth / 2 : depth);
            return new Fuzz(http("POST", path, json, body.getBytes(StandardCharsets.UTF_8), true), -1, "deep-nesting");
        }
        if (k < 56) { // wrong methods and paths
            String[] methods = {"GET", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FOO"};
            String[] junk = {"/", "/v1", "/v1/sessions/", "/v1/sessions//glimpse", "/v1/sessions/" + session + "/glimpse/extra", "/%00",
                "/v1/sessions/%2e%2e/glimpse", "/" + "a".repeat(r.nextInt(9000)), "/metrics/x", "/health?x=" + r.nextInt(), "/v1/glimpse;x=1",
                "/v1/sessions/" + Long.toHexString(r.nextLong())};
            String m = methods[r.nextInt(methods.length)];
            return new Fuzz(http(m, r.nextBoolean() ? path : junk[r.nextInt(junk.length)], json, valid.getBytes(StandardCharsets.UTF_8), true), -1,
                    "method-path");
        }
        if (k < 64) { // content types
            String[] types = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz", "application/xml", "",
                "application/json; charset=latin-1", "*/*", "application/jsonx"};
            return new Fuzz(http("POST", path, types[r.nextInt(types.length)], valid.getBytes(StandardCharsets.UTF_8), true), -1, "content-type");
        }
        if (k < 72) { // malformed HTTP
            String[] raws = {"GARBAGE\r\n\r\n", "POST /v1/glimpse HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                "POST /v1/glimpse HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n{}",
                "POST /v1/glimpse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
                "POST /v1/glimpse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"co\r\n",
                "POST /v1/glimpse HTTP/9.9\r\nHost: x\r\n\r\n", "POST /v1/glimpse HTTP/1.1\r\nBad Header Line\r\n\r\n",
                "POST /v1/glimpse HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(20_000) + "\r\n\r\n",
                "POST /v1/glimpse HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
                "POST  HTTP/1.1\r\n\r\n", "\r\n\r\n\r\n", "POST /v1/glimpse HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"};
            return new Fuzz(raws[r.nextInt(raws.length)].getBytes(StandardCharsets.ISO_8859_1), -1, "malformed-http");
        }
        if (k < 78) { // oversized bodies, declared or not
            byte[] big = ("{\"context\": \"" + "z".repeat(70_000 + r.nextInt(50_000)) + "\"}").getBytes(StandardCharsets.UTF_8);
            return new Fuzz(http("POST", path, json, big, r.nextBoolean(), r.nextBoolean() ? "Transfer-Encoding: chunked" : "X-N: 1"), -1,
                    "oversized");
        }
        if (k < 80) { // slow bodies (a few: each holds a connection for the read timeout)
            byte[] req = http("POST", path, json, valid.getBytes(StandardCharsets.UTF_8), true);
            return new Fuzz(req, req.length - 3, "slow-body");
        }
        if (k < 86) { // auth and client headers
            return new Fuzz(http("POST", path, json, valid.getBytes(StandardCharsets.UTF_8), true, "Authorization: Bearer " + "k".repeat(r.nextInt(50)),
                    "X-Client-Id: " + "c".repeat(r.nextInt(200))), -1, "headers");
        }
        // the rest: valid requests, so the fuzz also exercises real sessions
        return new Fuzz(http(r.nextInt(10) == 0 ? "DELETE" : "POST", r.nextInt(10) == 0 ? "/v1/sessions/" + session : path, json,
                valid.getBytes(StandardCharsets.UTF_8), true), -1, "valid");
    }

    static long rssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return -1;
    }

    @Test
    void fuzzedRequestsGetJsonErrorsAndTheServerStaysCorrect() throws Exception {
        int count = Integer.getInteger("campaign.http.count", 400);
        long seed = Long.getLong("campaign.http.seed", 13);
        Path log = Path.of(System.getProperty("campaign.http.log", "target/campaign-http.log"));
        Files.createDirectories(log.toAbsolutePath().getParent());
        try (Model model = Model.load(Fixtures.tiny())) {
            RouterMetrics metrics = new RouterMetrics();
            try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(8).contextSize(2048).oneShotReserve(1, 256).listener(metrics).build();
                    RouterServer server = RouterServer.start(router, ServerOptions.defaults().withPort(0).withMaxBodyBytes(64 * 1024).withMaxTokens(512)
                            .withReadTimeoutMs(1500).withIdleTimeoutMs(5000).withSessionTtlMs(2000).withMaxSessionsPerClient(0), metrics);
                    PrintWriter out = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8))) {
                int port = server.port();
                byte[] probe = http("POST", "/v1/glimpse", "application/json", VALID[0].getBytes(StandardCharsets.UTF_8), true);
                Answer before = send(port, probe, -1, 0);
                assertEquals(200, before.status(), before.body());
                long rss0 = rssKb();
                Random r = new Random(seed);
                List<String> ids = new ArrayList<>();
                Map<String, Integer> byStatus = new TreeMap<>();
                Map<String, Integer> byKind = new TreeMap<>();
                AtomicInteger done = new AtomicInteger();
                List<String> problems = new ArrayList<>();
                ExecutorService slow = Executors.newFixedThreadPool(16);
                List<Future<?>> slowOnes = new ArrayList<>();
                long rssMax = rss0;
                List<String> rssSamples = new ArrayList<>();
                long t0 = System.nanoTime();
                for (int i = 0; i < count; i++) {
                    Fuzz f = fuzz(r, ids);
                    byKind.merge(f.kind(), 1, Integer::sum);
                    int n = i;
                    Runnable one = () -> {
                        Answer a;
                        try {
                            a = send(port, f.bytes(), f.slowAfter(), f.slowAfter() >= 0 ? 2500 : 0);
                        } catch (IOException e) {
                            synchronized (problems) {
                                problems.add("#" + n + " " + f.kind() + ": " + e);
                            }
                            return;
                        }
                        boolean noRequest = new String(f.bytes(), StandardCharsets.ISO_8859_1).isBlank();
                        String problem = noRequest && a.status() < 0 ? null : judge(a); // blank lines are no request: no answer is right
                        synchronized (problems) {
                            byStatus.merge(a.status() + " " + f.kind(), 1, Integer::sum);
                            if (problem != null) {
                                problems.add("#" + n + " " + f.kind() + ": " + problem + " <- " + preview(f.bytes()));
                            }
                            if (a.status() == 201 && a.body().contains("\"session\"")) {
                                try {
                                    ids.add(JSON.readTree(a.body()).get("session").asText());
                                } catch (IOException ignored) {
                                    // judged above
                                }
                            }
                        }
                        done.incrementAndGet();
                    };
                    if (f.slowAfter() >= 0) {
                        slowOnes.add(slow.submit(one));
                    } else {
                        one.run();
                    }
                    if (i % 500 == 0) {
                        long now = rssKb();
                        rssMax = Math.max(rssMax, now);
                        rssSamples.add(i + ":" + now);
                    }
                }
                for (Future<?> s : slowOnes) {
                    s.get(5, TimeUnit.MINUTES);
                }
                slow.shutdown();
                double secs = (System.nanoTime() - t0) / 1e9;
                Answer health = send(port, http("GET", "/health", null, new byte[0], false), -1, 0);
                Answer after = send(port, probe, -1, 0);
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (router.openSessions() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(100); // the session TTL (2 s) closes what the fuzz left open
                }
                long rss1 = rssKb();
                out.printf("%d requests in %.1f s; problems %d; health %d; same glimpse after: %s; sessions left %d; RSS %d -> max %d -> %d kB%n", count,
                        secs, problems.size(), health.status(), before.body().equals(after.body()), router.openSessions(), rss0, Math.max(rssMax, rss1),
                        rss1);
                out.println("RSS samples (request: kB): " + rssSamples);
                out.println("by kind: " + byKind);
                out.println("by status and kind: " + byStatus);
                problems.forEach(out::println);
                out.flush();
                System.out.println("HTTP campaign: " + count + " requests, " + problems.size() + " problems, RSS " + rss0 + " -> " + rss1 + " kB (log: "
                        + log + ")");
                assertTrue(problems.isEmpty(), problems.size() + " problems, first: " + problems.subList(0, Math.min(5, problems.size())));
                assertEquals(200, health.status(), health.body());
                assertEquals(before.body(), after.body(), "the same glimpse answers the same after the fuzz");
                assertEquals(0, router.openSessions(), "no session leaked");
            }
        }
    }

    /** Null when the answer is acceptable, else what is wrong with it. */
    static String judge(Answer a) {
        if (a.status() < 0) {
            return "no HTTP answer: " + preview(a.body().getBytes(StandardCharsets.UTF_8));
        }
        if (a.status() == 500) {
            return "500: " + a.body();
        }
        if (a.status() == 204 || a.status() == 304) {
            return null;
        }
        if (!a.contentType().startsWith("application/json")) {
            return a.status() + " with content type \"" + a.contentType() + "\": " + preview(a.body().getBytes(StandardCharsets.UTF_8));
        }
        JsonNode n;
        try {
            n = JSON.readTree(a.body());
        } catch (IOException e) {
            return a.status() + " with a body that is not JSON: " + preview(a.body().getBytes(StandardCharsets.UTF_8));
        }
        if (a.status() >= 400 && (n == null || !n.path("error").isTextual() || !n.path("type").isTextual())) {
            return a.status() + " without {error, type}: " + a.body();
        }
        if (a.status() < 400 && (a.status() < 200 || a.status() > 201)) {
            return "unexpected status " + a.status();
        }
        return null;
    }

    static String preview(byte[] b) {
        String s = new String(b, 0, Math.min(b.length, 160), StandardCharsets.ISO_8859_1).replace("\r\n", "\\r\\n");
        return s + (b.length > 160 ? "... (" + b.length + " bytes)" : "");
    }
}
