package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
