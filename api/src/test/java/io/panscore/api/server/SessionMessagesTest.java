package io.panscore.api.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.Independent;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.Fixtures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A session opened over HTTP on chat messages builds the released probe context, as RoutingLoop's
 * sessions do, so a router driving the loop step by step over HTTP glimpses what the in-process loop
 * glimpses: after an appended step, the conversation plus the continued assistant turn
 * {@code "<think>" + step + "\n\n"}, tokenized whole (expected tokens written out here, entropies
 * from the float64 reference).
 */
class SessionMessagesTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void appendedStepsBuildTheReleasedContext() throws Exception {
        try (Model model = Model.load(Fixtures.tiny()); Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(512))) {
            RouterMetrics metrics = new RouterMetrics();
            try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(2).contextSize(512).listener(metrics).build();
                    RouterServer server = RouterServer.start(router, ServerOptions.defaults().withPort(0), metrics)) {
                HttpClient http = HttpClient.newHttpClient();
                String base = "http://127.0.0.1:" + server.port();
                List<ChatMessage> chat = List.of(new ChatMessage("user", "What is 6 times 7?"));
                JsonNode open = post(http, base + "/v1/sessions", "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 6 times 7?\"}]}", 201);
                String id = open.get("session").asText();
                int[] first = released(model, model.renderChatJinja(chat, null, true, false));
                assertEquals(first.length, open.get("tokens").asInt());
                check(scratch, first, post(http, base + "/v1/sessions/" + id + "/glimpse", null, 200));
                JsonNode app = post(http, base + "/v1/sessions/" + id + "/append", "{\"text\": \"Six sevens.\"}", 200);
                List<ChatMessage> continued = List.of(chat.get(0), new ChatMessage("assistant", "<think>Six sevens.\n\n"));
                int[] second = released(model, model.renderChatJinja(continued, null, false, true));
                assertEquals(second.length, app.get("tokens").asInt());
                assertTrue(model.detokenize(second, true).endsWith("<think>Six sevens.\n\n"), model.detokenize(second, true));
                check(scratch, second, post(http, base + "/v1/sessions/" + id + "/glimpse", null, 200));
            }
        }
    }

    /** The released code's tokenization: the whole text at once, special tokens parsed, BOS only when the text lacks it. */
    static int[] released(Model model, String text) {
        int bos = model.info().bos();
        boolean hasBos = bos >= 0 && text.startsWith(model.tokenText(bos));
        return model.tokenize(text, !hasBos, true);
    }

    static void check(Engine scratch, int[] context, JsonNode d) {
        ReferenceKernel.Stats ref = Independent.next(scratch, context, GlimpRouter.TOP_K);
        assertEquals(Independent.renormalisedEntropy(ref.topLogprobs()), d.get("entropy").asDouble(), 1e-4, d.toString());
        assertEquals(ref.argmax(), d.get("token").asInt());
    }

    static JsonNode post(HttpClient http, String url, String body, int status) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json");
        b.POST(body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(status, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }
}
