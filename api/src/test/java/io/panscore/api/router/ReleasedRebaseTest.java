package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A RELEASED session after a step the small model wrote itself: the context is re-rendered with
 * {@code <think>} before the steps, so its tokens stop extending the generated ones right after the
 * generation prompt. Only the tokens after the common prefix may be decoded again (the prefix's
 * KV cells are copied), and the glimpse must equal one on the new context decoded from scratch.
 * The contexts and the expected count are written out by hand here, not taken from the router.
 */
class ReleasedRebaseTest {

    static Model small;
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("user", "What is 12 times 12? Think step by step."));
    static final String STEP = "First, 12 times 10 is 120.";

    @BeforeAll
    static void load() {
        small = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), RoutingLoopTest.CHATML));
    }

    @AfterAll
    static void free() {
        small.close();
    }

    @ParameterizedTest
    @EnumSource(EngineOptions.KvCache.class)
    void aSmallStepDecodesOnlyWhatFollowsTheCommonPrefix(EngineOptions.KvCache kv) {
        String before = "<|im_start|>user\nWhat is 12 times 12? Think step by step.<|im_end|>\n<|im_start|>assistant\n";
        // HF's continue_final_message cuts the rendering after the final message's content, keeping
        // its trailing "\n\n" where the template preserves it (ChatML does)
        String after = before + "<think>" + STEP + "\n\n";
        int[] beforeTokens = small.tokenize(before, true, true);
        int[] generated = small.tokenize(STEP + "\n\n", false, false);
        int[] afterTokens = small.tokenize(after, true, true);
        assertEquals(after, GlimpRouter.probeText(small, PROBLEM, List.of(STEP)), "the released context, by hand");

        int[] held = new int[beforeTokens.length + generated.length];
        System.arraycopy(beforeTokens, 0, held, 0, beforeTokens.length);
        System.arraycopy(generated, 0, held, beforeTokens.length, generated.length);
        int common = 0;
        while (common < held.length && common < afterTokens.length && held[common] == afterTokens[common]) {
            common++;
        }
        assertTrue(common < held.length, "the re-rendered context does not extend the generated tokens (else this test shows nothing)");
        assertTrue(common > 0, "but it shares the prompt");

        try (GlimpRouter router = GlimpRouter.builder(small).threshold(1.0).contextSize(1024).maxSessions(4).kvCache(kv).build();
                GlimpRouter.RouterSession s = router.open(PROBLEM)) {
            assertArrayEquals(beforeTokens, router.contextTokens(s));
            router.glimpse(s);
            router.appendTokens(s, generated); // what generation leaves in the session
            long decodedBefore = router.decodedTokens();
            router.acceptGenerated(s, STEP, generated, true);
            Decision d = router.glimpse(s);
            long decoded = router.decodedTokens() - decodedBefore;
            assertArrayEquals(afterTokens, router.contextTokens(s));
            // the session had decoded the prompt only (the generated tokens were pending)
            assertEquals(afterTokens.length - Math.min(common, beforeTokens.length), decoded,
                    "decoded: the new context after its common prefix with the prompt, not all " + afterTokens.length + " tokens");

            try (GlimpRouter.RouterSession fresh = router.open(afterTokens)) {
                Decision want = router.glimpse(fresh);
                assertEquals(want.token(), d.token());
                assertEquals(want.exactEntropy(), d.exactEntropy(), 1e-4 * (1 + want.exactEntropy()));
                assertEquals(want.logprob(), d.logprob(), 1e-4 * (1 + Math.abs(want.logprob())));
            }
        }
    }
}
