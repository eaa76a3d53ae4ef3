package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.SharedModels;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RoutingLoopTest {

    /** ChatML as a Jinja template (the fixtures carry it as their tokenizer.chat_template). */
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    static Model small;
    static Model large;
    static Model stories;
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("user", "What is 12 times 12? Think step by step."));

    @BeforeAll
    static void load() {
        small = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), CHATML));
        large = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small().withSeed(7), CHATML));
        stories = Model.load(stories260K());
    }

    @AfterAll
    static void free() {
        small.close();
        large.close();
        stories.close();
    }

    static Path stories260K() {
        return SharedModels.stories260K();
    }

    /** A large model that writes "step 1", "step 2", ... and records what it was asked. */
    static final class Scripted implements StepWriter {
        final List<List<String>> asked = new ArrayList<>();
        final List<Request> requests = new ArrayList<>();
        final List<String> texts;
        final int tokensEach;

        Scripted(List<String> texts, int tokensEach) {
            this.texts = texts;
            this.tokensEach = tokensEach;
        }

        @Override
        public Conversation open(List<ChatMessage> messages) {
            return new Conversation() {
                @Override
                public Written write(List<String> steps, Request request) {
                    asked.add(List.copyOf(steps));
                    requests.add(request);
                    String t = texts.get(Math.min(asked.size() - 1, texts.size() - 1));
                    return new Written(t, tokensEach, "stop");
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public String name() {
            return "scripted";
        }

        @Override
        public void close() {}
    }

    private static GlimpRouter storiesRouter(double tau) {
        return GlimpRouter.builder(stories).template(PromptTemplate.named("chatml")).threshold(tau).contextSize(1024).maxSessions(4).build();
    }

    /**
     * Every step SMALL (τ above any entropy): the prompt is decoded once, at the first glimpse; each
     * step then decodes its generated tokens once plus the one re-decoded last token per step, and
     * each later glimpse decodes the previous step's last token (pending after generation) and the
     * delimiter when the step did not end with it.
     */
    @Test
    void smallStepsDecodeThePrefixOnce() {
        RouteOptions o = RouteOptions.defaults().withMaxStepTokens(12).withMaxTotalTokens(60).withMaxAnswerTokens(0).withSeed(3);
        try (GlimpRouter router = storiesRouter(1e9); Scripted big = new Scripted(List.of("unused"), 1); RoutingLoop loop = new RoutingLoop(router, big, o)) {
            long before = router.pool().decodedTokens();
            RoutedTrace t = loop.route(PROBLEM);
            long decoded = router.pool().decodedTokens() - before;
            int prompt = stories.tokenize(router.renderChat(PROBLEM), true, true).length;
            int delimiter = stories.tokenize("\n\n", false, false).length;
            long expected = prompt;
            int k = 0;
            for (RoutedTrace.Step s : t.steps()) {
                assertEquals("small", s.model());
                assertTrue(s.entropy() >= 0, "each step was glimpsed");
                expected += s.tokens(); // the re-decoded last token + all generated tokens but the last
                if (k > 0) {
                    expected += 1 + (t.steps().get(k - 1).tokens() < 12 ? 0 : delimiter); // the next glimpse: the last token (+ the delimiter)
                }
                k++;
            }
            assertTrue(t.steps().size() >= 3, "several steps: " + t.steps().size());
            assertEquals(expected, decoded, "decoded tokens: the prompt once, each generated token once, one re-decode per step");
            assertTrue(decoded < (long) prompt * t.steps().size(), "far less than a prefix decode per step");
            assertEquals(0, big.asked.size(), "the large model was not asked");
            assertNull(t.answer());
            assertEquals("max_total_tokens", t.stopReason());
            assertTrue(t.steps().stream().mapToInt(RoutedTrace.Step::tokens).sum() >= 60);
            assertEquals(0.0, t.largeStepFraction());
        }
    }

    /** The same seed gives the same trace; another seed another one. */
    @Test
    void seededRunsRepeat() {
        RouteOptions o = RouteOptions.defaults().withMaxStepTokens(10).withMaxTotalTokens(40).withMaxAnswerTokens(0).withPolicy(RoutePolicy.SMALL);
        List<String> a;
        List<String> b;
        List<String> c;
        try (GlimpRouter router = storiesRouter(1.0); Scripted big = new Scripted(List.of("x"), 1)) {
            try (RoutingLoop loop = new RoutingLoop(router, big, o.withSeed(11))) {
                a = loop.route(PROBLEM).steps().stream().map(RoutedTrace.Step::text).toList();
                b = loop.route(PROBLEM).steps().stream().map(RoutedTrace.Step::text).toList();
            }
            try (RoutingLoop loop = new RoutingLoop(router, big, o.withSeed(12))) {
                c = loop.route(PROBLEM).steps().stream().map(RoutedTrace.Step::text).toList();
            }
        }
        assertEquals(a, b);
        assertFalse(a.equals(c), "another seed, other steps: " + a + " vs " + c);
    }

    /**
     * Every step LARGE (τ below any entropy): the large model's steps are appended to the small
     * model's session, so each glimpse equals a fresh glimpse of the prompt followed by the steps
     * so far; the final answer is asked with all steps, at most 2048 tokens and no stop string.
     */
    @Test
    void largeStepsAreAppendedToTheSmallModelsContext() {
        RouteOptions o = RouteOptions.defaults().withMaxTotalTokens(15);
        try (GlimpRouter router = storiesRouter(-1); Scripted big = new Scripted(List.of("Tom went home.", "He was sad.", "Then he ate.", "The end."), 5);
                RoutingLoop loop = new RoutingLoop(router, big, o)) {
            RoutedTrace t = loop.route(PROBLEM);
            assertEquals(List.of("large", "large", "large"), t.steps().stream().map(RoutedTrace.Step::model).toList());
            assertEquals("max_total_tokens", t.stopReason());
            // a session opened on text appends each step and the delimiter tokenized on their own (GlimpRouter.append)
            List<Integer> context = new ArrayList<>();
            for (int id : stories.tokenize(router.renderChat(PROBLEM), true, true)) {
                context.add(id);
            }
            for (int k = 0; k < 3; k++) {
                double fresh = router.glimpseContext(context.stream().mapToInt(Integer::intValue).toArray()).entropy();
                assertEquals(fresh, t.steps().get(k).entropy(), 1e-5, "step " + k);
                for (int id : stories.tokenize(t.steps().get(k).text() + "\n\n", false, false)) {
                    context.add(id);
                }
            }
            assertEquals(List.of(List.of(), List.of("Tom went home."), List.of("Tom went home.", "He was sad."),
                    List.of("Tom went home.", "He was sad.", "Then he ate.")), big.asked);
            assertEquals(512, big.requests.get(0).maxTokens());
            assertEquals(List.of("\n\n"), big.requests.get(0).stop());
            assertEquals(0.6, big.requests.get(0).sampling().temperature());
            assertEquals(0.95, big.requests.get(0).sampling().topP());
            assertEquals(2048, big.requests.get(3).maxTokens());
            assertEquals(List.of(), big.requests.get(3).stop());
            assertEquals("The end.", t.answer());
            assertEquals(1.0, t.largeStepFraction());
            assertEquals(1.0, t.largeTokenFraction());
        }
    }

    @Test
    void aRepeatedStepEndsTheReasoning() {
        try (GlimpRouter router = storiesRouter(1.0); Scripted big = new Scripted(List.of("A.", "B.", "A.", "C."), 2);
                RoutingLoop loop = new RoutingLoop(router, big, RouteOptions.defaults().withPolicy(RoutePolicy.LARGE))) {
            RoutedTrace t = loop.route(PROBLEM);
            assertEquals("repeated_step", t.stopReason());
            assertEquals(3, t.steps().size(), "the repeated step is in the trace");
            assertEquals(List.of("A.", "B."), big.asked.get(3), "but not among the steps the answer sees");
            assertEquals("C.", t.answer());
        }
    }

    @Test
    void theEndOfThinkingEndsTheReasoning() {
        try (GlimpRouter router = storiesRouter(1.0); Scripted big = new Scripted(List.of("A.", "B. </think>", "never", "answer"), 2);
                RoutingLoop loop = new RoutingLoop(router, big, RouteOptions.defaults().withPolicy(RoutePolicy.LARGE))) {
            RoutedTrace t = loop.route(PROBLEM);
            assertEquals("end_of_thinking", t.stopReason());
            assertEquals(List.of("A.", "B. </think>"), t.steps().stream().map(RoutedTrace.Step::text).toList());
            assertEquals("never", t.answer(), "the third call is the answer");
        }
    }

    /** The end-of-thinking marker found in small-model text: run once, take the second step's text as the marker, run again. */
    @Test
    void smallStepsStopAtTheEndOfThinkingToo() {
        RouteOptions o = RouteOptions.defaults().withPolicy(RoutePolicy.SMALL).withMaxStepTokens(10).withMaxTotalTokens(60).withMaxAnswerTokens(0).withSeed(5);
        try (GlimpRouter router = storiesRouter(1.0); Scripted big = new Scripted(List.of("x"), 1)) {
            List<String> first;
            try (RoutingLoop loop = new RoutingLoop(router, big, o)) {
                first = loop.route(PROBLEM).steps().stream().map(RoutedTrace.Step::text).toList();
            }
            assertTrue(first.size() >= 3 && !first.get(1).isEmpty() && !first.get(0).contains(first.get(1)), first.toString());
            try (RoutingLoop loop = new RoutingLoop(router, big, o.withEndOfThinking(first.get(1)))) {
                RoutedTrace t = loop.route(PROBLEM);
                assertEquals("end_of_thinking", t.stopReason());
                assertEquals(first.subList(0, 2), t.steps().stream().map(RoutedTrace.Step::text).toList());
            }
        }
    }

    /**
     * GlimpRouter on two fixture models (chat templates, RELEASED probe context), the large one
     * local: τ between the entropies seen, so both decisions occur, each following its entropy.
     */
    @Test
    void glimpReachesBothDecisionsWithALocalLargeModel() {
        RouteOptions o = RouteOptions.defaults().withMaxStepTokens(6).withMaxTotalTokens(48).withMaxAnswerTokens(4).withSeed(9);
        double tau;
        try (GlimpRouter router = GlimpRouter.builder(small).threshold(1e9).contextSize(2048).maxSessions(4).build();
                LocalStepWriter big = new LocalStepWriter(large, PromptTemplate.model(), 1, 2048); RoutingLoop loop = new RoutingLoop(router, big, o)) {
            RoutedTrace all = loop.route(PROBLEM);
            double[] h = all.steps().stream().mapToDouble(RoutedTrace.Step::entropy).sorted().toArray();
            assertTrue(h.length >= 4, "steps: " + h.length);
            tau = (h[h.length / 2 - 1] + h[h.length / 2]) / 2;
        }
        try (GlimpRouter router = GlimpRouter.builder(small).threshold(tau).contextSize(2048).maxSessions(4).build();
                LocalStepWriter big = new LocalStepWriter(large, PromptTemplate.model(), 1, 2048); RoutingLoop loop = new RoutingLoop(router, big, o)) {
            RoutedTrace t = loop.route(PROBLEM);
            long larges = t.steps().stream().filter(s -> s.model().equals("large")).count();
            assertTrue(larges > 0 && larges < t.steps().size(), "both decisions: " + t.steps());
            for (RoutedTrace.Step s : t.steps()) {
                assertEquals(s.entropy() >= tau, s.model().equals("large"), s.toString());
            }
            assertTrue(t.answer() != null && t.answerTokens() > 0 && t.answerTokens() <= 4);
            RoutedTrace again;
            try (RoutingLoop loop2 = new RoutingLoop(router, big, o)) {
                again = loop2.route(PROBLEM);
            }
            assertEquals(t.steps().stream().map(RoutedTrace.Step::text).toList(), again.steps().stream().map(RoutedTrace.Step::text).toList());
            assertEquals(t.answer(), again.answer());
        }
    }

    @Test
    void randomPolicyIsSeeded() {
        RouteOptions o = RouteOptions.defaults().withPolicy(RoutePolicy.RANDOM).withLargeFraction(0.5).withMaxStepTokens(4).withMaxTotalTokens(40)
                .withMaxAnswerTokens(0).withSeed(21);
        try (GlimpRouter router = storiesRouter(1.0); Scripted big = new Scripted(List.of("a.", "b.", "c.", "d.", "e.", "f.", "g.", "h.", "i.", "j."), 4);
                RoutingLoop loop = new RoutingLoop(router, big, o)) {
            RoutedTrace t = loop.route(PROBLEM);
            java.util.Random coin = new java.util.Random(21);
            for (RoutedTrace.Step s : t.steps()) {
                assertEquals(coin.nextDouble() < 0.5, s.model().equals("large"), t.steps().toString());
                assertTrue(Double.isNaN(s.entropy()));
            }
        }
    }
}
