package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code panscore serve} with a large model, in its own JVM: {@code --large} (a local GGUF) serves
 * POST /v1/route, {@code --route-max-tokens} bounds what a request may ask (413 one token over),
 * {@code --large-url} to an endpoint that does not answer gives 502 on a large step while a
 * small-only route still succeeds; without either flag the endpoint is 404.
 */
class ServeRouteCliTest {

    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Starts serve with {@code extra} flags, runs {@code checks} against its port, stops it with SIGTERM. */
    static void withServe(List<String> extra, Checks checks) throws Exception {
        Path small = Fixtures.model(FixtureSpec.tinyQwen2Small(), CHATML);
        List<String> args = new ArrayList<>(List.of("--model", small.toString(), "--port", "0", "--ctx", "1024",
                "--max-sessions", "4", "--threads", "1", "--openai", "false"));
        args.addAll(extra);
        try (ServeProcess serve = ServeProcess.start(args)) {
            checks.run(serve.port(), serve.banner());
        }
    }

    interface Checks {
        void run(int port, String banner) throws Exception;
    }

    static ServeCliTest.Reply route(int port, String body) throws Exception {
        return ServeCliTest.call(port, "POST", "/v1/route", body);
    }

    @Test
    void largeAndRouteMaxTokens() throws Exception {
        Path large = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7), CHATML);
        withServe(List.of("--large", large.toString(), "--route-max-tokens", "60", "--route-parallel", "1"), (port, banner) -> {
            assertTrue(banner.contains("POST /v1/route with the large model local:"), banner);
            ServeCliTest.Reply over = route(port, "{\"prompt\": \"Hi\", \"max_total_tokens\": 40, \"max_step_tokens\": 11, \"max_answer_tokens\": 10}");
            assertEquals(413, over.status());
            assertTrue(over.json().get("error").asText().contains("= 61 tokens, more than this server's limit of 60"), over.json().toString());
            ServeCliTest.Reply ok = route(port, "{\"prompt\": \"Hi\", \"policy\": \"large\", \"max_total_tokens\": 40, \"max_step_tokens\": 10, \"max_answer_tokens\": 10}");
            assertEquals(200, ok.status(), String.valueOf(ok.json()));
            JsonNode t = ok.json();
            long sum = 0;
            for (JsonNode s : t.path("steps")) {
                assertEquals("large", s.path("model").asText());
                assertTrue(s.path("tokens").asInt() >= 1 && s.path("tokens").asInt() <= 10, s.toString());
                sum += s.path("tokens").asInt();
            }
            assertEquals(sum, t.path("large_tokens").asLong());
            assertTrue(t.path("answer_tokens").asInt() >= 1 && t.path("answer_tokens").asInt() <= 10, t.toString());
        });
    }

    @Test
    void largeUrlThatDoesNotAnswerIs502AndNoLargeModelIs404() throws Exception {
        withServe(List.of("--large-url", "http://127.0.0.1:9/v1", "--large-timeout", "5"), (port, banner) -> {
            ServeCliTest.Reply bad = route(port, "{\"prompt\": \"Hi\", \"policy\": \"large\", \"max_total_tokens\": 8, \"max_step_tokens\": 4}");
            assertEquals(502, bad.status());
            assertEquals("upstream", bad.json().get("type").asText());
            assertTrue(bad.json().get("error").asText().contains("127.0.0.1:9"), bad.json().toString());
            ServeCliTest.Reply small = route(port, "{\"prompt\": \"Hi\", \"policy\": \"small\", \"max_total_tokens\": 8, \"max_step_tokens\": 4, \"max_answer_tokens\": 0}");
            assertEquals(200, small.status(), String.valueOf(small.json()));
            assertEquals("small", small.json().path("steps").get(0).path("model").asText());
        });
        withServe(List.of(), (port, banner) -> {
            ServeCliTest.Reply none = route(port, "{\"prompt\": \"Hi\"}");
            assertEquals(404, none.status());
            assertTrue(none.json().get("error").asText().contains("--large-url"), none.json().toString());
        });
    }
}
