package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.Sequence;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code serve --add-bos false} on a model that adds BOS (the trained stories260K; the fixtures add
 * none, so only a real model shows it): a text prompt to /v1/completions is then tokenized without
 * BOS unless the request says {@code "add_special_tokens": true}. Checked by the echoed prompt's
 * tokens and log-probs against the model's tokenizer and the float64 reference in this JVM.
 */
class ServeAddBosCliTest {

    static final String TEXT = "Once upon a time, there was a little girl named Lily. She liked to play in the park.";

    /** The kernel's 2.4e-6 (docs/TESTING.md) plus JSON's shortest round-trip printing of a float. */
    private static double tol(double v) {
        return 2.4e-6 * (1 + Math.abs(v)) + 1e-6 * Math.abs(v);
    }

    private static void assertEchoed(JsonNode reply, int[] ids, Engine engine, String what) {
        JsonNode lp = reply.path("choices").get(0).path("logprobs");
        JsonNode tokenLogprobs = lp.path("token_logprobs");
        assertEquals(ids.length, tokenLogprobs.size(), what + ": prompt tokens echoed " + lp.path("tokens"));
        assertEquals(ids.length, reply.path("usage").path("prompt_tokens").asInt(), what);
        assertTrue(tokenLogprobs.get(0).isNull(), what + ": the first prompt token has no log-prob");
        ReferenceKernel.Stats[] ref = Independent.reference(engine, new Sequence(ids, 1, ids.length), 0);
        for (int i = 1; i < ids.length; i++) {
            double want = ref[i - 1].logprob();
            assertEquals(want, tokenLogprobs.get(i).asDouble(), tol(want), what + ": token " + i);
        }
    }

    @Test
    void addBosFalseLeavesBosOutUnlessTheRequestAsks() throws Exception {
        Path stories = SharedModels.stories260K();
        try (Model model = Model.load(stories); Engine engine = model.newEngine(EngineOptions.defaults().withContextSize(256))) {
            int[] withBos = model.tokenize(TEXT, true, false);
            int[] noBos = model.tokenize(TEXT, false, false);
            assertEquals(noBos.length + 1, withBos.length, "stories260K adds BOS");
            try (ServeProcess serve = ServeProcess.start(List.of("--model", stories.toString(), "--port", "0", "--ctx", "256", "--threads", "1",
                    "--template", "none", "--add-bos", "false"))) {
                String body = "{\"prompt\": \"" + TEXT + "\", \"echo\": true, \"max_tokens\": 0, \"logprobs\": 0";
                ServeFlagsCliTest.Reply plain = ServeFlagsCliTest.call(serve.port(), "POST", "/v1/completions", body + "}", null);
                assertEquals(200, plain.status(), String.valueOf(plain.json()));
                assertEchoed(plain.json(), noBos, engine, "--add-bos false");
                ServeFlagsCliTest.Reply asked = ServeFlagsCliTest.call(serve.port(), "POST", "/v1/completions", body + ", \"add_special_tokens\": true}", null);
                assertEquals(200, asked.status(), String.valueOf(asked.json()));
                assertEchoed(asked.json(), withBos, engine, "add_special_tokens: true");
            }
        }
    }
}
