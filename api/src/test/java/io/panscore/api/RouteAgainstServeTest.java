package io.panscore.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.router.OpenAiStepWriter;
import io.panscore.api.router.RouteOptions;
import io.panscore.api.router.RoutePolicy;
import io.panscore.api.router.RoutedTrace;
import io.panscore.api.router.RoutingLoop;
import io.panscore.api.server.RouterMetrics;
import io.panscore.api.server.RouterServer;
import io.panscore.api.server.ServerOptions;
import io.panscore.api.server.openai.OpenAiOptions;
import io.panscore.api.server.openai.OpenAiProtocol;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The routing loop with a real {@code panscore serve} on loopback as the large model (the server
 * {@code serve} runs: {@link RouterServer} with the OpenAI protocol, here on stories260K with a
 * ChatML template) and the qwen2-shaped fixture as the small model. Expected values come from
 * elsewhere: greedy large steps from the float64 argmax chain of the large model over the
 * hand-written continued-turn context, glimpses from the float64 reference entropy of the small
 * model's released context, sampled steps from the serve endpoint called directly with a
 * hand-written request, the requests' count from the server's own metrics.
 */
class RouteAgainstServeTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String NAME = "stories260K";
    /** ChatML that leaves a final assistant turn open when it is continued (vLLM's continue_final_message). */
    static final String CHATML = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
            + "{% if not loop.last or add_generation_prompt %}<|im_end|>\n{% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    /** The fixtures' chat template (ChatML as Jinja). */
    static final String FIXTURE_CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    static final String QUESTION = "Lily had a cat. What did the cat do?";
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("user", QUESTION));

    static Path smallFile;
    static Model small;
    static Model large;
    static Engine smallRef;
    static Engine largeRef;
    static GlimpRouter served;
    static RouterServer server;
    static String base;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        smallFile = Fixtures.model(FixtureSpec.tinyQwen2Small(), FIXTURE_CHATML);
        small = Model.load(smallFile);
        large = Model.load(SharedModels.stories260K());
        smallRef = small.newEngine(EngineOptions.defaults().withContextSize(1024));
        largeRef = large.newEngine(EngineOptions.defaults().withContextSize(1024));
        RouterMetrics metrics = new RouterMetrics();
        served = GlimpRouter.builder(large).template(io.panscore.api.trajectory.PromptTemplate.named("chatml")).maxSessions(2).contextSize(512)
                .listener(metrics).build();
        OpenAiProtocol openai = new OpenAiProtocol(large, OpenAiOptions.defaults(NAME).withContexts(1024, 1024).withMaxGenerations(2).withThreads(2)
                .withChatTemplate(CHATML));
        server = RouterServer.start(served, ServerOptions.defaults().withPort(0).withMaxTokens(1000).withMaxBodyBytes(64 * 1024), metrics, List.of(openai));
        base = "http://127.0.0.1:" + server.port() + "/v1";
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        served.close();
        largeRef.close();
        smallRef.close();
        large.close();
        small.close();
    }

    /** The large model's context before a step, written out by hand: the chat turns, then the continued "<think>" turn. */
    static String largeContext(List<String> steps) {
        String user = "<|im_start|>user\n" + QUESTION;
        return steps.isEmpty() ? user + "<|im_end|>\n<|im_start|>assistant\n" : user + "<|im_end|>\n<|im_start|>assistant\n<think>" + String.join("\n\n", steps) + "\n\n";
    }

    /** What greedy decoding writes after {@code context}: the float64 argmax chain, cut before {@code stop}; its text and token count. */
    static Object[] argmaxChain(String context, int maxTokens, String stop) {
        int[] ctx = large.tokenize(context, false, true); // the server tokenizes chat text without BOS
        String before = large.detokenize(ctx, false);
        int[] all = ctx;
        for (int n = 1; n <= maxTokens; n++) {
            ReferenceKernel.Stats s = Independent.next(largeRef, all, 1);
            if (s.argmax() == large.info().eos() || s.argmax() == large.info().eot()) {
                return new Object[] {large.detokenize(all, false).substring(before.length()), n};
            }
            all = Arrays.copyOf(all, all.length + 1);
            all[all.length - 1] = s.argmax();
            String text = large.detokenize(all, false).substring(before.length());
            if (stop != null && text.contains(stop)) {
                return new Object[] {text.substring(0, text.indexOf(stop)), n};
            }
        }
        return new Object[] {large.detokenize(all, false).substring(before.length()), maxTokens};
    }

    /** The small model's released probe context (its chat template; from step 2 the continued "<think>" turn), tokenized whole. */
    static int[] smallContext(List<String> steps) {
        String text = GlimpRouter.probeText(small, PROBLEM, steps);
        int bos = small.info().bos();
        boolean hasBos = bos >= 0 && text.startsWith(small.tokenText(bos));
        return small.tokenize(text, !hasBos, true);
    }

    static double chatCompletions200() throws Exception {
        String m = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString())
                .body();
        Matcher x = Pattern.compile("panscore_http_requests_total\\{endpoint=\"/v1/chat/completions\",status=\"200\"} ([0-9.eE+]+)").matcher(m);
        return x.find() ? Double.parseDouble(x.group(1)) : 0;
    }

    /**
     * GLIMP with τ below any entropy (every step large), greedy: each step is the large model's
     * float64 argmax chain over the hand-written context of the steps so far, each glimpse the
     * small model's float64 entropy over its released context with the large steps appended, and
     * the stop reason the one the expected steps give; one request per step and one for the answer.
     */
    @Test
    void greedyLargeStepsAreTheArgmaxChainAndReachTheSmallSession() throws Exception {
        int maxStep = 5;
        int maxTotal = 30;
        RouteOptions o = RouteOptions.defaults().withSampling(0, 1.0).withMaxStepTokens(maxStep).withMaxTotalTokens(maxTotal).withMaxAnswerTokens(4);
        double requestsBefore = chatCompletions200();
        RoutedTrace t;
        try (GlimpRouter router = GlimpRouter.builder(small).threshold(-1).contextSize(1024).maxSessions(2).build();
                OpenAiStepWriter big = new OpenAiStepWriter(base, NAME, null, Duration.ofSeconds(60)); RoutingLoop loop = new RoutingLoop(router, big, o)) {
            t = loop.route(PROBLEM);
        }
        // the loop, run by hand on the expected steps
        List<String> steps = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        int total = 0;
        String stop = null;
        int k = 0;
        while (stop == null) {
            assertTrue(k < t.steps().size(), "fewer steps than expected: " + t.steps());
            RoutedTrace.Step got = t.steps().get(k);
            ReferenceKernel.Stats g = Independent.next(smallRef, smallContext(steps), GlimpRouter.TOP_K);
            assertEquals(Independent.renormalisedEntropy(g.topLogprobs()), got.entropy(), 1e-4, "glimpse " + k + " reads the small session with the large steps in it");
            Object[] want = argmaxChain(largeContext(steps), maxStep, "\n\n");
            assertEquals("large", got.model());
            assertEquals(want[0], got.text(), "step " + k);
            assertEquals(want[1], got.tokens(), "step " + k + "'s tokens (usage.completion_tokens)");
            total += (int) want[1];
            if (!seen.add((String) want[0])) {
                stop = "repeated_step";
            } else if (total >= maxTotal) {
                stop = "max_total_tokens";
                steps.add((String) want[0]);
            } else {
                steps.add((String) want[0]);
            }
            k++;
        }
        assertEquals(k, t.steps().size());
        assertEquals(stop, t.stopReason());
        Object[] answer = argmaxChain(largeContext(steps), 4, null);
        assertEquals(answer[0], t.answer());
        assertEquals(answer[1], t.answerTokens());
        assertEquals(1.0, t.largeStepFraction());
        assertEquals(requestsBefore + k + 1, chatCompletions200(), 0, "one chat completion per step and one for the answer, all 200");
    }

    /** A request as the released client sends it (the OpenAI SDK with vLLM's extra body), written out by hand. */
    static String direct(List<String> steps, int maxTokens, boolean stop, long seed) throws Exception {
        ObjectNode b = JSON.createObjectNode();
        b.put("model", NAME);
        ArrayNode ms = b.putArray("messages");
        ms.addObject().put("role", "user").put("content", QUESTION);
        if (!steps.isEmpty()) {
            ms.addObject().put("role", "assistant").put("content", "<think>" + String.join("\n\n", steps) + "\n\n");
            b.put("continue_final_message", true).put("add_generation_prompt", false);
        }
        b.put("max_tokens", maxTokens).put("temperature", 0.6).put("top_p", 0.95).put("seed", seed);
        if (stop) {
            b.putArray("stop").add("\n\n");
        }
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/chat/completions")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(b.toString())).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body()).path("choices").path(0).path("message").path("content").asText();
    }

    /**
     * The released settings (temperature 0.6, top-p 0.95, seeded per step): every large step and
     * the answer equal the serve endpoint's answer to the hand-written request with the same seed;
     * the same seed routes the same trace again; the end of thinking, taken from a step, ends the
     * reasoning there.
     */
    @Test
    void sampledLargeStepsEqualDirectCallsAndRepeat() throws Exception {
        RouteOptions o = RouteOptions.defaults().withPolicy(RoutePolicy.LARGE).withSeed(40).withMaxStepTokens(8).withMaxTotalTokens(24).withMaxAnswerTokens(5);
        RoutedTrace t;
        RoutedTrace again;
        RoutedTrace ended;
        try (GlimpRouter router = GlimpRouter.builder(small).contextSize(1024).maxSessions(2).build();
                OpenAiStepWriter big = new OpenAiStepWriter(base, NAME, null, Duration.ofSeconds(60)); RoutingLoop loop = new RoutingLoop(router, big, o)) {
            t = loop.route(PROBLEM);
            again = loop.route(PROBLEM);
            assertTrue(t.steps().size() >= 3, t.steps().toString());
            String marker = t.steps().get(1).text();
            assertTrue(!marker.isEmpty() && !t.steps().get(0).text().contains(marker), t.steps().toString());
            ended = loop.route(PROBLEM, o.withEndOfThinking(marker), Double.NaN);
        }
        List<String> steps = new ArrayList<>();
        for (int k = 0; k < t.steps().size(); k++) {
            assertEquals(direct(steps, 8, true, 40 + k), t.steps().get(k).text(), "step " + k);
            steps.add(t.steps().get(k).text());
        }
        if (t.stopReason().equals("repeated_step")) {
            steps.removeLast();
        }
        assertEquals(direct(steps, 5, false, 40 + 99_999), t.answer(), "the answer: no stop, its own seed (seed + 99999)");
        assertEquals(t.steps().stream().map(RoutedTrace.Step::text).toList(), again.steps().stream().map(RoutedTrace.Step::text).toList());
        assertEquals(t.answer(), again.answer());
        assertEquals("end_of_thinking", ended.stopReason());
        assertEquals(t.steps().subList(0, 2).stream().map(RoutedTrace.Step::text).toList(), ended.steps().stream().map(RoutedTrace.Step::text).toList());
    }

    /**
     * {@code panscore route --large-url} against the server: every large step and answer reached it
     * (its request counter), traces are seeded, and a resumed run writes the missing traces exactly.
     */
    @Test
    void routeCliAgainstServeResumes(@TempDir Path dir) throws Exception {
        Path in = dir.resolve("problems.jsonl");
        Files.writeString(in, """
                {"id": "a", "prompt": "Lily had a cat. What did the cat do?"}
                {"id": "b", "messages": [{"role": "user", "content": "Tom found a big box."}]}
                {"id": "c", "question": "Why was the sun hot?"}
                """);
        Path out = dir.resolve("traces.jsonl");
        String[] args = {"route", "--small", smallFile.toString(), "--large-url", base, "--large-model", NAME, "--in", in.toString(), "--out", out.toString(),
                "--policy", "random", "--large-fraction", "0.5", "--seed", "7", "--max-step-tokens", "6", "--max-total-tokens", "24", "--max-answer-tokens", "4",
                "--ctx", "1024"};
        double before = chatCompletions200();
        CliRun r = CliRun.of(args);
        assertEquals(0, r.status(), r.err());
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(3, lines.size());
        int requests = 0;
        for (String l : lines) {
            JsonNode tr = JSON.readTree(l);
            for (JsonNode s : tr.path("steps")) {
                requests += s.path("model").asText().equals("large") ? 1 : 0;
            }
            requests += tr.has("answer") ? 1 : 0;
        }
        assertTrue(requests > 3, "large steps were written: " + lines);
        assertEquals(before + requests, chatCompletions200(), 0, "each large step and answer was one request the server answered");
        Files.writeString(out, lines.get(0) + "\n" + lines.get(1).substring(0, 15));
        CliRun again = CliRun.of(args);
        assertEquals(0, again.status(), again.err());
        assertTrue(again.out().contains("routed 2 problem(s)") && again.out().contains("1 already in"), again.out());
        List<String> resumed = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(3, resumed.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(untimed(JSON.readTree(lines.get(i))), untimed(JSON.readTree(resumed.get(i))), "trace " + i);
        }
    }

    static String untimed(JsonNode t) {
        ObjectNode o = t.deepCopy();
        o.remove("wall_ms");
        for (JsonNode s : o.path("steps")) {
            ((ObjectNode) s).remove("ms");
        }
        return o.toString();
    }
}
