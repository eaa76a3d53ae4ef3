package io.panscore.api.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

/**
 * The soak of issue #13: 64 concurrent clients against the sidecar on loopback for
 * {@code -Dcampaign.soak.seconds=S} (default 10 for CI; {@code scripts/soak.sh} documents the
 * 10-minute run). Each client opens a session, glimpses, appends, glimpses, forks now and then,
 * deletes, and sends one-shot glimpses. No answer may be an error other than 503 with Retry-After
 * (capacity); RSS is sampled every second and reported (min and max after the first fifth).
 */
class SoakTest {

    static final ObjectMapper JSON = new ObjectMapper();

    /** RSS of the server: this JVM, or the process {@code -Dcampaign.soak.pid} (an external {@code panscore serve}). */
    static long rssKb() {
        String pid = System.getProperty("campaign.soak.pid");
        if (pid == null) {
            return HttpFuzzCampaignTest.rssKb();
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return -1;
    }

    @Test
    void sixtyFourClients() throws Exception {
        int seconds = Integer.getInteger("campaign.soak.seconds", 10);
        int clients = Integer.getInteger("campaign.soak.clients", 64);
        Path log = Path.of(System.getProperty("campaign.soak.log", "target/soak.log"));
        Files.createDirectories(log.toAbsolutePath().getParent());
        String external = System.getProperty("campaign.soak.url"); // e.g. http://127.0.0.1:8080 of a `panscore serve` (scripts/soak.sh)
        try (Model model = external != null ? null : Model.load(Fixtures.tiny())) {
            RouterMetrics metrics = new RouterMetrics();
            try (GlimpRouter router = external != null ? null
                    : GlimpRouter.builder(model).maxSessions(48).contextSize(4096).oneShotReserve(1, 256).listener(metrics).build();
                    RouterServer server = external != null ? null
                            : RouterServer.start(router, ServerOptions.defaults().withPort(0).withSessionTtlMs(30_000), metrics)) {
                HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).executor(Executors.newFixedThreadPool(8)).build();
                String base = external != null ? external : "http://127.0.0.1:" + server.port();
                Map<String, LongAdder> statuses = new ConcurrentHashMap<>();
                List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
                ExecutorService pool = Executors.newFixedThreadPool(clients);
                List<Future<?>> running = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    String client = "soak-" + c;
                    int seed = c;
                    running.add(pool.submit(() -> {
                        int step = 0;
                        while (System.nanoTime() < end && errors.size() < 20) {
                            step++;
                            try {
                                if ((step + seed) % 5 == 0) {
                                    call(http, base, "POST", "/v1/glimpse", "{\"context\": \"one shot " + seed + " " + step + "\"}", client, statuses, errors);
                                    continue;
                                }
                                JsonNode open = call(http, base, "POST", "/v1/sessions", "{\"prompt\": \"client " + seed + " asks question " + step + "\"}",
                                        client, statuses, errors);
                                if (open == null) {
                                    Thread.sleep(5);
                                    continue;
                                }
                                String id = open.get("session").asText();
                                for (int s = 0; s < 3; s++) {
                                    call(http, base, "POST", "/v1/sessions/" + id + "/glimpse", null, client, statuses, errors);
                                    call(http, base, "POST", "/v1/sessions/" + id + "/append", "{\"text\": \"step " + s + " of client " + seed + "\"}", client,
                                            statuses, errors);
                                }
                                if (step % 7 == 0) {
                                    JsonNode fork = call(http, base, "POST", "/v1/sessions/" + id + "/fork", null, client, statuses, errors);
                                    if (fork != null) {
                                        String f = fork.get("session").asText();
                                        call(http, base, "POST", "/v1/sessions/" + f + "/glimpse", null, client, statuses, errors);
                                        call(http, base, "DELETE", "/v1/sessions/" + f, null, client, statuses, errors);
                                    }
                                }
                                call(http, base, "DELETE", "/v1/sessions/" + id, null, client, statuses, errors);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    }));
                }
                List<long[]> rss = new ArrayList<>();
                long t0 = System.nanoTime();
                while (System.nanoTime() < end) {
                    Thread.sleep(1000);
                    rss.add(new long[] {(System.nanoTime() - t0) / 1_000_000_000L, rssKb()});
                }
                for (Future<?> f : running) {
                    f.get(2, TimeUnit.MINUTES);
                }
                pool.shutdown();
                long warm = Math.max(1, rss.size() / 5);
                long min = Long.MAX_VALUE;
                long max = 0;
                for (int i = (int) warm; i < rss.size(); i++) {
                    min = Math.min(min, rss.get(i)[1]);
                    max = Math.max(max, rss.get(i)[1]);
                }
                long total = statuses.values().stream().mapToLong(LongAdder::sum).sum();
                double spread = min > 0 ? 100.0 * (max - min) / min : 0;
                try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8))) {
                    out.printf("%d clients, %d s, %d requests (%.0f/s), statuses %s, errors %d; RSS after warm-up (%d s): min %d kB, max %d kB, spread %.1f%%;"
                            + " sessions open at the end %d%n", clients, seconds, total, total / (double) seconds, statuses, errors.size(), warm, min, max,
                            spread, openSessions(http, base));
                    out.println("RSS samples (s, kB): " + rss.stream().map(a -> a[0] + ":" + a[1]).toList());
                    errors.forEach(out::println);
                }
                System.out.printf("soak: %d clients, %d s, %d requests, %d errors, RSS spread %.1f%% after warm-up (log: %s)%n", clients, seconds, total,
                        errors.size(), spread, log);
                assertTrue(errors.isEmpty(), errors.subList(0, Math.min(5, errors.size())).toString());
                assertEquals(0, openSessions(http, base), "every session was deleted");
                assertTrue(total > clients, "the clients made progress: " + total);
            }
        }
    }

    static int openSessions(HttpClient http, String base) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(r.body()).get("sessions").asInt();
    }

    /** One request; returns its JSON on 2xx, null on 503 (which must carry Retry-After); anything else is an error. */
    static JsonNode call(HttpClient http, String base, String method, String path, String body, String client, Map<String, LongAdder> statuses,
            List<String> errors) throws InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).header("X-Client-Id", client)
                .header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            errors.add(method + " " + path + ": " + e);
            return null;
        }
        statuses.computeIfAbsent(Integer.toString(r.statusCode()), k -> new LongAdder()).increment();
        if (r.statusCode() == 503) {
            if (r.headers().firstValue("retry-after").isEmpty()) {
                errors.add("503 without Retry-After on " + method + " " + path);
            }
            return null;
        }
        if (r.statusCode() >= 300) {
            errors.add(r.statusCode() + " on " + method + " " + path + ": " + r.body());
            return null;
        }
        try {
            return JSON.readTree(r.body());
        } catch (java.io.IOException e) {
            errors.add("not JSON: " + r.body());
            return null;
        }
    }
}
