package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code serve}'s large-model flags that {@link ServeRouteCliTest} does not pass, each by what a
 * route then returns: {@code --large-template none} by the large model's greedy step (the float64
 * argmax chain over BOS + the prompt as written, computed in this JVM), and
 * {@code --large-api-key-env} by a large endpoint that wants a key: the variable it names is sent,
 * not OPENAI_API_KEY ({@code --large-model} names the model that endpoint serves, which it checks).
 */
class ServeLargeFlagsCliTest {

    static final String QUESTION = "Lily had a cat. What did the cat do?";
    static final String ROUTE_LARGE = "{\"prompt\": \"" + QUESTION + "\", \"policy\": \"large\", \"temperature\": 0, \"max_step_tokens\": 6, "
            + "\"max_total_tokens\": 6, \"max_answer_tokens\": 0}";

    static List<String> small() {
        return List.of("--model", Fixtures.model(FixtureSpec.tinyQwen2Small(), ServeRouteCliTest.CHATML).toString(), "--port", "0", "--ctx", "1024",
                "--max-sessions", "4", "--threads", "1", "--openai", "false");
    }

    static List<String> concat(List<String> a, String... b) {
        List<String> all = new java.util.ArrayList<>(a);
        all.addAll(List.of(b));
        return all;
    }

    /**
     * --large-template none: the large model's context is BOS + the prompt as written (stories260K
     * has no chat template, so without the flag serve refuses to start). The one step of six tokens
     * at temperature 0 is the argmax chain, cut before "\n\n" or at the end of generation.
     */
    @Test
    void largeTemplateNoneWritesTheGreedyStepAfterThePromptAsWritten() throws Exception {
        Path stories = SharedModels.stories260K();
        String want;
        int wantTokens = 0;
        try (Model large = Model.load(stories); Engine ref = large.newEngine(EngineOptions.defaults().withContextSize(256))) {
            int[] all = large.tokenize(QUESTION, true, true);
            String before = large.detokenize(all, false);
            String text = "";
            while (wantTokens < 6) {
                ReferenceKernel.Stats s = Independent.next(ref, all, 1);
                wantTokens++;
                if (s.argmax() == large.info().eos() || s.argmax() == large.info().eot()) {
                    break;
                }
                all = Arrays.copyOf(all, all.length + 1);
                all[all.length - 1] = s.argmax();
                text = large.detokenize(all, false).substring(before.length());
                if (text.contains("\n\n")) {
                    text = text.substring(0, text.indexOf("\n\n"));
                    break;
                }
            }
            want = text;
        }
        try (ServeProcess serve = ServeProcess.start(concat(small(), "--large", stories.toString(), "--large-template", "none"))) {
            ServeFlagsCliTest.Reply r = ServeFlagsCliTest.call(serve.port(), "POST", "/v1/route", ROUTE_LARGE, null);
            assertEquals(200, r.status(), r.text());
            JsonNode step = r.json().path("steps").get(0);
            assertEquals("large", step.path("model").asText());
            assertEquals(want, step.path("text").asText(), r.text());
            assertEquals(wantTokens, step.path("tokens").asInt(), r.text());
        }
    }

    /**
     * --large-api-key-env: the large model is another serve that wants a key; the routing serve's
     * environment holds the right key under the named variable and a wrong one under OPENAI_API_KEY
     * (the default), so the step succeeds only if the named variable is the one sent.
     */
    @Test
    void largeApiKeyEnvNamesTheVariableWhoseKeyIsSent() throws Exception {
        Path big = Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7), ServeRouteCliTest.CHATML);
        try (ServeProcess large = ServeProcess.start(List.of("--model", big.toString(), "--port", "0", "--ctx", "1024", "--threads", "1", "--api-key",
                ServeFlagsCliTest.KEY, "--served-model-name", "big"))) {
            String url = "http://127.0.0.1:" + large.port() + "/v1";
            Map<String, String> env = new HashMap<>();
            env.put("PANSCORE_TEST_LARGE_KEY", ServeFlagsCliTest.KEY);
            env.put("OPENAI_API_KEY", "wrong-key");
            try (ServeProcess router = ServeProcess.start(concat(small(), "--large-url", url, "--large-model", "big", "--large-api-key-env",
                    "PANSCORE_TEST_LARGE_KEY"), env)) {
                ServeFlagsCliTest.Reply ok = ServeFlagsCliTest.call(router.port(), "POST", "/v1/route", ROUTE_LARGE, null);
                assertEquals(200, ok.status(), ok.text());
                JsonNode step = ok.json().path("steps").get(0);
                assertEquals("large", step.path("model").asText());
                assertTrue(step.path("tokens").asInt() >= 1 && step.path("tokens").asInt() <= 6, ok.text());
            }
            // the same router with the default variable (the wrong key): the large step fails upstream with the 401
            env.remove("PANSCORE_TEST_LARGE_KEY");
            try (ServeProcess router = ServeProcess.start(concat(small(), "--large-url", url, "--large-model", "big"), env)) {
                ServeFlagsCliTest.Reply bad = ServeFlagsCliTest.call(router.port(), "POST", "/v1/route", ROUTE_LARGE, null);
                assertEquals(502, bad.status(), bad.text());
                assertTrue(bad.text().contains("401"), bad.text());
            }
        }
    }
}
