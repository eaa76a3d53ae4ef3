package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.SharedModels;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Model;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The routing loop's edges on stories260K: a per-call τ (the HTTP sidecar's) that overrides the
 * router's, a step count that ignores a writer's unknown (-1) token counts, the LARGE policy
 * leaving the small model's context alone, a small model whose context fills up, and the step and
 * wall times within what the test itself measured.
 */
class RoutingLoopEdgesTest {

    static Model stories;
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("user", "Tell me about a cat."));

    @BeforeAll
    static void load() {
        stories = Model.load(SharedModels.stories260K());
    }

    @AfterAll
    static void free() {
        stories.close();
    }

    private static GlimpRouter router(double tau, int contextSize) {
        return GlimpRouter.builder(stories).template(PromptTemplate.named("chatml")).threshold(tau).contextSize(contextSize).maxSessions(2).build();
    }

    /**
     * τ per call: NaN keeps the router's; a finite one replaces it, a step going large when its
     * entropy is at least τ (the first glimpse's entropy itself as τ: large).
     */
    @Test
    void aPerCallThresholdReplacesTheRouters() {
        final RouteOptions o = RouteOptions.defaults().withMaxStepTokens(4).withMaxTotalTokens(12).withMaxAnswerTokens(0).withSeed(2);
        try (GlimpRouter router = router(1e9, 512); RoutingLoopTest.Scripted big = new RoutingLoopTest.Scripted(List.of("A cat.", "It sat.", "The end."), 4);
                RoutingLoop loop = new RoutingLoop(router, big, o)) {
            double first = router.glimpseContext(stories.tokenize(router.renderChat(PROBLEM), true, true)).entropy();
            RoutedTrace byRouter = loop.route(PROBLEM, o, Double.NaN);
            assertTrue(byRouter.steps().stream().allMatch(s -> s.model().equals("small")), "router tau 1e9: all small " + byRouter.steps());
            RoutedTrace low = loop.route(PROBLEM, o, -1);
            assertEquals(List.of("large", "large", "large"), low.steps().stream().map(RoutedTrace.Step::model).toList());
            assertEquals(List.of("A cat.", "It sat.", "The end."), low.steps().stream().map(RoutedTrace.Step::text).toList());
            RoutedTrace equal = loop.route(PROBLEM, o, first);
            assertEquals("large", equal.steps().getFirst().model(), "entropy " + equal.steps().getFirst().entropy() + " >= tau " + first);
            assertEquals(first, equal.steps().getFirst().entropy(), 0);
        }
        try (GlimpRouter router = router(-1, 512); RoutingLoopTest.Scripted big = new RoutingLoopTest.Scripted(List.of("unused"), 4);
                RoutingLoop loop = new RoutingLoop(router, big, RouteOptions.defaults())) {
            RoutedTrace high = loop.route(PROBLEM, o, 1e9);
            assertTrue(high.steps().stream().allMatch(s -> s.model().equals("small")), "per-call tau 1e9 over the router's -1: all small");
            assertEquals(0, big.asked.size());
        }
    }

    /** A writer that reports no token counts (-1): they count as 0, so only the repeated step stops the loop. */
    @Test
    void unknownTokenCountsCountAsNothing() {
        RouteOptions o = RouteOptions.defaults().withPolicy(RoutePolicy.LARGE).withMaxTotalTokens(1).withMaxAnswerTokens(3);
        try (GlimpRouter router = router(1.0, 512); RoutingLoopTest.Scripted big = new RoutingLoopTest.Scripted(List.of("a", "b", "c", "a", "answer"), -1);
                RoutingLoop loop = new RoutingLoop(router, big, o)) {
            long start = System.nanoTime();
            RoutedTrace t = loop.route(PROBLEM);
            long elapsed = System.nanoTime() - start;
            assertEquals("repeated_step", t.stopReason());
            assertEquals(List.of("a", "b", "c", "a"), t.steps().stream().map(RoutedTrace.Step::text).toList());
            assertEquals("answer", t.answer());
            assertEquals(-1, t.answerTokens());
            assertEquals(3, big.requests.get(4).maxTokens());
            long sum = 0;
            for (RoutedTrace.Step s : t.steps()) {
                assertTrue(s.nanos() >= 0 && s.nanos() <= elapsed, "step time " + s.nanos() + " within " + elapsed);
                sum += s.nanos();
            }
            assertTrue(t.wallNanos() >= sum && t.wallNanos() <= elapsed, "wall " + t.wallNanos() + " between " + sum + " and " + elapsed);
        }
    }

    /**
     * LARGE: nobody reads the small model's context, so the large steps are not appended to it;
     * steps far longer than the small model's 256-token context do not overflow it.
     */
    @Test
    void theLargePolicyLeavesTheSmallContextAlone() {
        String longStep = "The cat sat on the mat and looked at the big red ball. ".repeat(12);
        assertTrue(stories.tokenize(longStep, false, false).length > 100);
        RouteOptions o = RouteOptions.defaults().withPolicy(RoutePolicy.LARGE).withMaxTotalTokens(40).withMaxAnswerTokens(0);
        try (GlimpRouter router = router(1.0, 256);
                RoutingLoopTest.Scripted big = new RoutingLoopTest.Scripted(List.of(longStep + 1, longStep + 2, longStep + 3, longStep + 4), 10);
                RoutingLoop loop = new RoutingLoop(router, big, o)) {
            long decoded = router.decodedTokens();
            RoutedTrace t = loop.route(PROBLEM);
            assertEquals("max_total_tokens", t.stopReason());
            assertEquals(4, t.steps().size());
            assertEquals(decoded, router.decodedTokens(), "the small model decoded nothing");
            assertEquals(0, router.openSessions());
        }
    }

    /**
     * RANDOM sends a step large when the coin (java.util.Random with the options' seed) falls
     * strictly below largeFraction: with largeFraction equal to the coin's first draw, the first
     * step is small. The loop returns its options and stops its generator thread on close.
     */
    @Test
    void theCoinAtItsEdgeOptionsAndClose() throws Exception {
        double coin = new java.util.Random(21).nextDouble();
        RouteOptions o = RouteOptions.defaults().withPolicy(RoutePolicy.RANDOM).withLargeFraction(coin).withSeed(21).withMaxStepTokens(4)
                .withMaxTotalTokens(4).withMaxAnswerTokens(0);
        java.util.Set<Thread> before = threadsNamed("panscore-generator");
        try (GlimpRouter router = router(1.0, 512); RoutingLoopTest.Scripted big = new RoutingLoopTest.Scripted(List.of("large step"), 4)) {
            RoutingLoop loop = new RoutingLoop(router, big, o);
            java.util.Set<Thread> mine = threadsNamed("panscore-generator");
            mine.removeAll(before);
            assertEquals(1, mine.size());
            assertEquals(o, loop.options());
            RoutedTrace t = loop.route(PROBLEM);
            assertEquals("small", t.steps().getFirst().model(), "draw " + coin + " is not below largeFraction " + coin);
            assertEquals(0, big.asked.size());
            loop.close();
            for (Thread g : mine) {
                assertFalse(g.isAlive(), "close() has stopped the loop's generator");
            }
        }
    }

    static java.util.Set<Thread> threadsNamed(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name) && t.isAlive())
                .collect(java.util.stream.Collectors.toSet());
    }

    /** SMALL steps until the small model's context (UNIFIED: the whole cache, one session) is full. */
    @Test
    void aFullSmallContextEndsTheReasoning() {
        RouteOptions o = RouteOptions.defaults().withPolicy(RoutePolicy.SMALL).withMaxStepTokens(512).withMaxTotalTokens(8192).withMaxAnswerTokens(0)
                .withSeed(1).withEndOfThinking("\u0000never");
        try (GlimpRouter router = GlimpRouter.builder(stories).template(PromptTemplate.named("chatml")).contextSize(256).maxSessions(1).build();
                RoutingLoopTest.Scripted big = new RoutingLoopTest.Scripted(List.of("unused"), 1); RoutingLoop loop = new RoutingLoop(router, big, o)) {
            RoutedTrace t = loop.route(PROBLEM);
            int prompt = stories.tokenize(router.renderChat(PROBLEM), true, true).length;
            int generated = t.steps().stream().mapToInt(RoutedTrace.Step::tokens).sum();
            assertEquals("context_full", t.stopReason(), t.steps().toString());
            // the session holds the prompt and every generated token (seed 1: one step of 204 tokens, no delimiter on the way)
            if (t.steps().size() == 1) {
                assertEquals(256, prompt + generated);
            } else {
                assertTrue(prompt + generated <= 256, prompt + " + " + generated);
            }
        }
    }
}
