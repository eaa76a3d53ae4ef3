package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.SamplingOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The OpenAI-compatible writer against a loopback stub that answers scripted bodies: the request
 * body for greedy and seeded samplers, the bearer header, what a step is read from (content,
 * usage, finish_reason, each possibly missing), and every failure as a typed exception that names
 * the endpoint and quotes (at most 500 characters of) the answer. Expected values by hand.
 */
class OpenAiStepWriterTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "2+2?"));

    /** Answers each request with the next scripted status and body; records bodies and Authorization headers. */
    static final class Stub implements AutoCloseable {
        final LoopbackHttp server;
        final List<String> bodies = Collections.synchronizedList(new ArrayList<>());
        final List<String> auth = Collections.synchronizedList(new ArrayList<>());

        Stub(int status, String body) throws IOException {
            server = new LoopbackHttp((ex, in) -> {
                bodies.add(new String(in, StandardCharsets.UTF_8));
                auth.add(String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
                return new LoopbackHttp.Reply(status, body, null);
            });
        }

        String base() {
            return server.base();
        }

        @Override
        public void close() {
            server.close();
        }
    }

    private static StepWriter.Written write(Stub stub, String key, List<String> steps, StepWriter.Request r) {
        try (OpenAiStepWriter w = new OpenAiStepWriter(stub.base(), "m", key, Duration.ofSeconds(30)); StepWriter.Conversation c = w.open(PROBLEM)) {
            return c.write(steps, r);
        }
    }

    static final StepWriter.Request GREEDY = new StepWriter.Request(7, SamplingOptions.greedy(), List.of());

    @Test
    void requestBodies() {
        try (OpenAiStepWriter w = new OpenAiStepWriter("https://example.org/api/v1/", "big", null, Duration.ofSeconds(1))) {
            assertEquals("https://example.org/api/v1/chat/completions", w.name());
            // greedy: temperature 0, top_p 0 sent as 1.0 (off), no seed (-1 = random), no stop
            assertEquals("{\"model\":\"big\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"2+2?\"}],"
                    + "\"max_tokens\":7,\"temperature\":0.0,\"top_p\":1.0}",
                    w.body(PROBLEM, List.of(), new StepWriter.Request(7, new SamplingOptions(0, 0, 0, 0, -1), List.of())).toString());
            // seed 0 is a seed; top_p 1 stays 1; two steps continue the assistant turn
            assertEquals("{\"model\":\"big\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"2+2?\"},"
                    + "{\"role\":\"assistant\",\"content\":\"<think>A\\n\\nB\\n\\n\"}],"
                    + "\"max_tokens\":3,\"temperature\":0.7,\"top_p\":0.5,\"stop\":[\"X\",\"Y\"],\"seed\":0,"
                    + "\"continue_final_message\":true,\"add_generation_prompt\":false}",
                    w.body(PROBLEM, List.of("A", "B"), new StepWriter.Request(3, new SamplingOptions(0.7, 0.5, 0, 0, 0), List.of("X", "Y"))).toString());
        }
        try (OpenAiStepWriter w = new OpenAiStepWriter("http://h:1/v1", "big", null, Duration.ofSeconds(1))) {
            assertEquals("http://h:1/v1/chat/completions", w.name());
        }
    }

    @Test
    void aStepIsReadFromContentUsageAndFinishReason() throws Exception {
        try (Stub stub = new Stub(200, "{\"choices\":[{\"message\":{\"content\":\"Four.\"},\"finish_reason\":\"length\"}],\"usage\":{\"completion_tokens\":2}}")) {
            StepWriter.Written w = write(stub, "sk-1", List.of(), GREEDY);
            assertEquals(new StepWriter.Written("Four.", 2, "length"), w);
            assertEquals(List.of("Bearer sk-1"), stub.auth);
            JsonNode sent = JSON.readTree(stub.bodies.getFirst());
            assertEquals(7, sent.path("max_tokens").asInt());
            assertTrue(sent.path("seed").isMissingNode());
        }
        // no usage, no finish_reason: -1 tokens, "unknown"; no key: no Authorization header
        try (Stub stub = new Stub(201, "{\"choices\":[{\"message\":{\"content\":\"\"}}]}")) {
            assertEquals(new StepWriter.Written("", -1, "unknown"), write(stub, null, List.of(), GREEDY));
            assertEquals(List.of("null"), stub.auth);
        }
    }

    @Test
    void failuresAreTypedAndQuoteTheAnswer() throws Exception {
        String longBody = "e".repeat(600);
        try (Stub stub = new Stub(503, longBody)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered HTTP 503: " + "e".repeat(500) + "...", e.getMessage());
        }
        try (Stub stub = new Stub(302, "moved")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered HTTP 302: moved", e.getMessage());
        }
        try (Stub stub = new Stub(400, "")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered HTTP 400: ", e.getMessage());
        }
        String noContent = "{\"choices\":[{\"message\":{\"content\":5}}],\"pad\":\"" + "p".repeat(520) + "\"}";
        try (Stub stub = new Stub(200, noContent)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered without choices[0].message.content: "
                    + noContent.substring(0, 500) + "...", e.getMessage());
        }
        try (Stub stub = new Stub(200, "{\"choices\":[]}")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered without choices[0].message.content: {\"choices\":[]}",
                    e.getMessage());
        }
        try (Stub stub = new Stub(200, "{not json")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered with invalid JSON: {not json", e.getMessage());
        }
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        } // closed: nobody listens there now
        try (OpenAiStepWriter w = new OpenAiStepWriter("http://127.0.0.1:" + port + "/v1", "m", null, Duration.ofSeconds(30));
                StepWriter.Conversation c = w.open(PROBLEM)) {
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> c.write(List.of(), GREEDY));
            assertTrue(e.getMessage().startsWith("the large model's endpoint http://127.0.0.1:" + port + "/v1/chat/completions did not answer"), e.getMessage());
        }
    }

    /** An error answer of exactly 500 characters is quoted whole (no "..."). */
    @Test
    void anErrorBodyAtTheLimitIsQuotedWhole() throws Exception {
        String exactly500 = "f".repeat(500); // at the limit: quoted whole, no "..."
        try (Stub stub = new Stub(500, exactly500)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered HTTP 500: " + exactly500, e.getMessage());
        }
    }

    /** So is an invalid JSON answer of exactly 500 characters. */
    @Test
    void anInvalidAnswerAtTheLimitIsQuotedWhole() throws Exception {
        String json500 = "[" + "1,".repeat(249) + "]"; // 500 characters, not an object with choices
        assertEquals(500, json500.length());
        try (Stub stub = new Stub(200, json500)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> write(stub, null, List.of(), GREEDY));
            assertEquals("the large model's endpoint " + stub.base() + "/chat/completions answered with invalid JSON: " + json500, e.getMessage());
        }
    }

    /** A caller interrupted while waiting gets a typed error and keeps its interrupt status. */
    @Test
    void anInterruptedCallerKeepsItsInterrupt() throws Exception {
        try (Stub stub = new Stub(200, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}");
                OpenAiStepWriter w = new OpenAiStepWriter(stub.base(), "m", null, Duration.ofSeconds(30)); StepWriter.Conversation c = w.open(PROBLEM)) {
            Thread.currentThread().interrupt();
            IllegalStateException e;
            try {
                e = assertThrows(IllegalStateException.class, () -> c.write(List.of(), GREEDY));
            } finally {
                assertTrue(Thread.interrupted(), "the interrupt status is kept (and cleared here)");
            }
            assertEquals("interrupted while waiting for " + stub.base() + "/chat/completions", e.getMessage());
        }
    }

    /** close() shuts the HTTP client down: its selector thread has ended. */
    @Test
    void closeEndsTheHttpClient() throws Exception {
        java.util.Set<Thread> before = selectors();
        OpenAiStepWriter w = new OpenAiStepWriter("http://127.0.0.1:9/v1", "m", null, Duration.ofSeconds(1));
        java.util.Set<Thread> mine = selectors();
        mine.removeAll(before);
        assertEquals(1, mine.size(), "one HTTP client per writer");
        w.close();
        for (Thread t : mine) {
            t.join(60_000);
            assertTrue(!t.isAlive(), "the client's selector thread has ended");
        }
    }

    private static java.util.Set<Thread> selectors() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().matches("HttpClient-\\d+-SelectorManager") && t.isAlive())
                .collect(java.util.stream.Collectors.toSet());
    }

    /** A request asks for at least one token: 1 is the smallest taken, 0 is refused with its reason. */
    @Test
    void aRequestAsksForAtLeastOneToken() {
        assertEquals(1, new StepWriter.Request(1, SamplingOptions.greedy(), List.of()).maxTokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new StepWriter.Request(0, SamplingOptions.greedy(), List.of()));
        assertEquals("maxTokens must be >= 1, got 0", e.getMessage());
    }

    @Test
    void onlyHttpUrlsWithAHost() {
        for (String bad : new String[] {"ftp://x/v1", "/v1", "http:///v1", "not a url", "mailto:a@b"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new OpenAiStepWriter(bad, "m", null, Duration.ofSeconds(1)), bad);
            assertTrue(e.getMessage().contains(bad) && e.getMessage().contains("expected e.g. http://127.0.0.1:8000/v1"), e.getMessage());
        }
        assertThrows(NullPointerException.class, () -> new OpenAiStepWriter("http://h/v1", null, null, Duration.ofSeconds(1)));
        assertThrows(NullPointerException.class, () -> new OpenAiStepWriter("http://h/v1", "m", null, null));
    }
}
