package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Model;
import io.panscore.kernel.SamplingOptions;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepWritersTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("user", "What is 12 times 12?"));

    /** A loopback chat-completions stub: records each request body, answers the scripted contents in turn. */
    static final class Stub implements AutoCloseable {
        final LoopbackHttp server;
        final List<JsonNode> bodies = Collections.synchronizedList(new ArrayList<>());
        final List<String> paths = Collections.synchronizedList(new ArrayList<>());

        Stub(List<String> contents, int status) throws IOException {
            server = new LoopbackHttp((ex, in) -> {
                paths.add(ex.getRequestURI().getPath());
                bodies.add(JSON.readTree(in));
                String content = contents.get(Math.min(bodies.size() - 1, contents.size() - 1));
                String answer = status != 200 ? "{\"error\":\"boom\"}"
                        : JSON.createObjectNode().<com.fasterxml.jackson.databind.node.ObjectNode>set("choices", JSON.createArrayNode().add(
                                JSON.createObjectNode().put("index", 0).put("finish_reason", "stop").<com.fasterxml.jackson.databind.node.ObjectNode>set("message",
                                        JSON.createObjectNode().put("role", "assistant").put("content", content))))
                                .<com.fasterxml.jackson.databind.node.ObjectNode>set("usage", JSON.createObjectNode().put("completion_tokens", 3)).toString();
                return new LoopbackHttp.Reply(status, answer, "application/json");
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

    /**
     * The loop with the large model behind an OpenAI-compatible endpoint: every request has the
     * released client's shape (hand-written expectations), the second step's context is the
     * continued assistant turn, and the answer is asked with 2048 tokens and no stop.
     */
    @Test
    void largeStepsReachTheEndpointWithTheReleasedRequestShape() throws Exception {
        try (Stub stub = new Stub(List.of("First.", "Second.", "First.", "The answer is 144."), 200);
                GlimpRouter router = GlimpRouter.builder(RoutingLoopTest.stories260K()).template(PromptTemplate.named("chatml")).contextSize(512).maxSessions(2).build();
                OpenAiStepWriter big = new OpenAiStepWriter(stub.base() + "/", "large-model", null, Duration.ofSeconds(30));
                RoutingLoop loop = new RoutingLoop(router, big, RouteOptions.defaults().withPolicy(RoutePolicy.LARGE).withSeed(4))) {
            RoutedTrace t = loop.route(PROBLEM);
            assertEquals("repeated_step", t.stopReason());
            assertEquals("The answer is 144.", t.answer());
            assertEquals(3, t.answerTokens());
            assertEquals(List.of(3, 3, 3), t.steps().stream().map(RoutedTrace.Step::tokens).toList());
            assertEquals(4, stub.bodies.size());
            assertEquals(List.of("/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions"), stub.paths);

            JsonNode first = stub.bodies.get(0);
            assertEquals(JSON.readTree("""
                    {"model":"large-model","messages":[{"role":"user","content":"What is 12 times 12?"}],
                     "max_tokens":512,"temperature":0.6,"top_p":0.95,"stop":["\\n\\n"],"seed":4}"""), first);
            JsonNode second = stub.bodies.get(1);
            assertEquals(JSON.readTree("""
                    {"model":"large-model","messages":[{"role":"user","content":"What is 12 times 12?"},
                       {"role":"assistant","content":"<think>First.\\n\\n"}],
                     "max_tokens":512,"temperature":0.6,"top_p":0.95,"stop":["\\n\\n"],"seed":5,
                     "continue_final_message":true,"add_generation_prompt":false}"""), second);
            JsonNode answer = stub.bodies.get(3);
            assertEquals("<think>First.\n\nSecond.\n\n", answer.path("messages").path(1).path("content").asText());
            assertEquals(2048, answer.path("max_tokens").asInt());
            assertTrue(answer.path("stop").isMissingNode(), answer.toString());
            assertTrue(answer.path("continue_final_message").asBoolean());
        }
    }

    @Test
    void endpointErrorsAreTypedAndSayWhat() throws Exception {
        try (Stub stub = new Stub(List.of("x"), 500); OpenAiStepWriter big = new OpenAiStepWriter(stub.base(), "m", "key", Duration.ofSeconds(30));
                StepWriter.Conversation c = big.open(PROBLEM)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> c.write(List.of(), new StepWriter.Request(8, SamplingOptions.greedy(), List.of("\n\n"))));
            assertTrue(e.getMessage().contains("HTTP 500") && e.getMessage().contains("boom"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new OpenAiStepWriter("ftp://x/v1", "m", null, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new OpenAiStepWriter("not a url", "m", null, Duration.ofSeconds(1)));
    }

    /**
     * A local large model keeps each conversation's context in its KV cache: the next step's context
     * extends the previous one, so only the new context tokens and the generated ones are decoded
     * (the step is generated in a fork: one re-decoded token, then one per generated token but the last).
     */
    @Test
    void localWriterDecodesOnlyWhatEachStepAdds() {
        try (Model large = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7), RoutingLoopTest.CHATML));
                LocalStepWriter w = new LocalStepWriter(large, PromptTemplate.model(), 1, 2048); StepWriter.Conversation c = w.open(PROBLEM)) {
            StepWriter.Request r = new StepWriter.Request(5, new SamplingOptions(0.6, 0.95, 0, 0, 1), List.of("\n\n"));
            List<String> steps = new ArrayList<>();
            int prev = 0;
            for (int k = 0; k < 3; k++) {
                long before = w.pool().decodedTokens();
                StepWriter.Written out = c.write(steps, r);
                long decoded = w.pool().decodedTokens() - before;
                int ctx = large.tokenize(GlimpRouter.probeText(large, PROBLEM, steps), true, true).length;
                assertEquals((ctx - prev) + out.tokens(), decoded, "step " + k + " (context " + ctx + " tokens)");
                assertTrue(out.tokens() >= 1 && out.tokens() <= 5);
                prev = ctx;
                steps.add("Step " + k + " " + out.text().replace("\n\n", " "));
            }
        }
    }
}
