package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.Independent;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A RELEASED session re-rendered after a step the small model wrote (ReleasedRebaseTest's case:
 * the new tokens share only a prefix with the held ones): with a free slot the prefix is copied
 * into a new session and the old one is freed; with no free slot (maxSessions 1) the context is
 * decoded afresh in the old one's place. Either way one session stays open and the next glimpse
 * is the float64 reference's on the re-rendered context, written out by hand here.
 */
class ReleasedFallbackTest {

    static Model small;
    static Engine scratch;
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("user", "What is 12 times 12? Think step by step."));
    static final String STEP = "First, 12 times 10 is 120.";
    static final String BEFORE = "<|im_start|>user\nWhat is 12 times 12? Think step by step.<|im_end|>\n<|im_start|>assistant\n";
    static final String AFTER = BEFORE + "<think>" + STEP + "\n\n";

    @BeforeAll
    static void load() {
        small = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), RoutingLoopTest.CHATML));
        scratch = small.newEngine(EngineOptions.defaults().withContextSize(1024));
    }

    @AfterAll
    static void free() {
        scratch.close();
        small.close();
    }

    @Test
    void withAFreeSlotTheOldSessionIsFreed() {
        check(2, false);
    }

    @Test
    void withNoFreeSlotTheContextIsDecodedAfresh() {
        check(1, true);
    }

    /**
     * The generated tokens decoded before the step is accepted (a glimpse after generation): only
     * what follows the tokens held in common is decoded again, not what the session had decoded
     * beyond them. A second step whose re-rendered context extends the generated tokens keeps the
     * same pool session and decodes only the generated tokens. Both glimpses equal the reference.
     */
    @Test
    void decodedGeneratedTokensAndASecondStepThatExtends() {
        String step2 = "Then 12 times 2 is 24.";
        int[] beforeTokens = small.tokenize(BEFORE, true, true);
        int[] generated = small.tokenize(STEP + "\n\n", false, false);
        int[] afterTokens = small.tokenize(AFTER, true, true);
        int[] generated2 = small.tokenize(step2 + "\n\n", false, false);
        int[] after2Tokens = small.tokenize(AFTER + step2 + "\n\n", true, true);
        int[] held = new int[beforeTokens.length + generated.length];
        System.arraycopy(beforeTokens, 0, held, 0, beforeTokens.length);
        System.arraycopy(generated, 0, held, beforeTokens.length, generated.length);
        int common = java.util.Arrays.mismatch(held, afterTokens);
        try (GlimpRouter router = GlimpRouter.builder(small).threshold(1.0).contextSize(1024).maxSessions(2).build();
                GlimpRouter.RouterSession s = router.open(PROBLEM)) {
            router.glimpse(s);
            router.appendTokens(s, generated);
            router.glimpse(s); // the generated tokens are decoded now
            long decodedBefore = router.decodedTokens();
            router.acceptGenerated(s, STEP, generated, true);
            Decision d = router.glimpse(s);
            assertEquals(afterTokens.length - common, router.decodedTokens() - decodedBefore, "decoded: what follows the " + common + " common tokens");
            assertReference(afterTokens, d);

            // the second step: the released tokens extend the first context and the generated tokens
            int[] extended = java.util.Arrays.copyOf(afterTokens, afterTokens.length + generated2.length);
            System.arraycopy(generated2, 0, extended, afterTokens.length, generated2.length);
            org.junit.jupiter.api.Assumptions.assumeTrue(java.util.Arrays.equals(extended, after2Tokens), "the second step tokenizes on its own");
            router.appendTokens(s, generated2);
            Object pooled = router.poolSession(s);
            decodedBefore = router.decodedTokens();
            router.acceptGenerated(s, step2, generated2, true);
            Decision d2 = router.glimpse(s);
            assertTrue(pooled == router.poolSession(s), "extended in place: no new session");
            assertEquals(generated2.length, router.decodedTokens() - decodedBefore);
            assertArrayEquals(after2Tokens, router.contextTokens(s));
            assertEquals(List.of(STEP, step2), s.steps());
            assertReference(after2Tokens, d2);
            assertEquals(1, router.openSessions());
        }
    }

    /**
     * Steps the large model wrote, appended to a RELEASED session: the context is re-rendered each
     * time (the first re-render adds {@code <think>}, the second extends it) and each glimpse
     * equals the reference on the hand-written context.
     */
    @Test
    void largeStepsAppendedToAReleasedSession() {
        String step2 = "Then 12 times 2 is 24.";
        try (GlimpRouter router = GlimpRouter.builder(small).threshold(1.0).contextSize(1024).maxSessions(2).build();
                GlimpRouter.RouterSession s = router.open(PROBLEM)) {
            router.glimpse(s);
            router.append(s, STEP);
            assertEquals(List.of(STEP), s.steps());
            assertArrayEquals(small.tokenize(AFTER, true, true), router.contextTokens(s));
            assertReference(small.tokenize(AFTER, true, true), router.glimpse(s));
            router.append(s, step2);
            int[] want = small.tokenize(AFTER + step2 + "\n\n", true, true);
            assertArrayEquals(want, router.contextTokens(s));
            assertEquals(want.length, s.length());
            assertReference(want, router.glimpse(s));
            assertEquals(1, router.openSessions());
        }
    }

    @Test
    void chatSessionsWithTheModelsTemplateAreReleased() {
        try (GlimpRouter router = GlimpRouter.builder(small).contextSize(1024).maxSessions(2).build();
                GlimpRouter.RouterSession chat = router.open(PROBLEM); GlimpRouter.RouterSession text = router.open("plain text")) {
            assertTrue(router.isReleased(chat), "a chat session with the model's template: RELEASED");
            assertTrue(!router.isReleased(text), "a text session is not");
        }
    }

    private static void assertReference(int[] context, Decision d) {
        ReferenceKernel.Stats ref = Independent.next(scratch, context, GlimpRouter.TOP_K);
        assertEquals(ref.argmax(), d.token());
        assertEquals(ref.entropy(), d.exactEntropy(), 1e-4);
        assertEquals(Independent.renormalisedEntropy(ref.topLogprobs()), d.topKEntropy(), 1e-4);
    }

    private static void check(int maxSessions, boolean afresh) {
        int[] beforeTokens = small.tokenize(BEFORE, true, true);
        int[] generated = small.tokenize(STEP + "\n\n", false, false);
        int[] afterTokens = small.tokenize(AFTER, true, true);
        int common = 0;
        while (common < beforeTokens.length && common < afterTokens.length && beforeTokens[common] == afterTokens[common]) {
            common++;
        }
        ReferenceKernel.Stats ref = Independent.next(scratch, afterTokens, GlimpRouter.TOP_K);
        try (GlimpRouter router = GlimpRouter.builder(small).threshold(1.0).contextSize(1024).maxSessions(maxSessions).build();
                GlimpRouter.RouterSession s = router.open(PROBLEM)) {
            router.glimpse(s);
            router.appendTokens(s, generated);
            long decodedBefore = router.decodedTokens();
            router.acceptGenerated(s, STEP, generated, true);
            assertEquals(1, router.openSessions(), "the session before the step is freed");
            assertEquals(List.of(STEP), s.steps());
            assertArrayEquals(afterTokens, router.contextTokens(s));
            Decision d = router.glimpse(s);
            assertEquals(afterTokens.length, s.length());
            assertEquals(afresh ? afterTokens.length : afterTokens.length - common, router.decodedTokens() - decodedBefore,
                    afresh ? "no slot for the copy: the whole context decoded" : "the common prefix copied, the rest decoded");
            assertEquals(ref.argmax(), d.token());
            assertEquals(ref.entropy(), d.exactEntropy(), 1e-4);
            assertEquals(Independent.renormalisedEntropy(ref.topLogprobs()), d.topKEntropy(), 1e-4);
            assertEquals(ref.argmaxLogprob(), d.logprob(), 1e-4);
        }
    }
}
