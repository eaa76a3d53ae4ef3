package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.SharedModels;
import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.Model;
import io.panscore.kernel.ModelOptions;
import io.panscore.kernel.SamplingOptions;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The local large-model writer on stories260K (a trained model, general.name "llama", no chat
 * template) with the named ChatML template: the context text is the rendered prompt followed by
 * each step and "\n\n" (written out by hand here), tokenized with BOS; what each write decodes
 * (the context's new tokens, or all of them when the steps changed, plus the generated ones but
 * the last), the finish reasons, and what close frees.
 */
class LocalStepWriterTest {

    static Model stories;
    static final List<ChatMessage> PROBLEM = List.of(new ChatMessage("user", "Tell me a story."));
    static final String PROMPT = "<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n";

    @BeforeAll
    static void load() {
        stories = Model.load(SharedModels.stories260K());
    }

    @AfterAll
    static void free() {
        stories.close();
    }

    private static int tokens(String text) {
        return stories.tokenize(text, true, true).length;
    }

    @Test
    void contextTextNameAndSettings() {
        try (LocalStepWriter w = new LocalStepWriter(stories, PromptTemplate.named("chatml"), 1, 512)) {
            assertEquals("local:llama", w.name());
            assertEquals(PROMPT, w.contextText(PROBLEM, List.of()));
            assertEquals(PROMPT + "Once.\n\nTwice.\n\n", w.contextText(PROBLEM, List.of("Once.", "Twice.")));
            assertEquals(2, w.pool().options().maxSequences(), "two slots per conversation: its context and the fork it writes in");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LocalStepWriter(stories, PromptTemplate.named("chatml"), 0, 512));
        assertEquals("maxConversations must be >= 1, got 0", e.getMessage());
    }

    @Test
    void writesDecodeWhatIsNewAndSayWhyTheyEnded() {
        try (LocalStepWriter w = new LocalStepWriter(stories, PromptTemplate.named("chatml"), 1, 512)) {
            StepWriter.Conversation c = w.open(PROBLEM);
            StepWriter.Request greedy = new StepWriter.Request(6, SamplingOptions.greedy(), List.of());
            long before = w.pool().decodedTokens();
            StepWriter.Written first = c.write(List.of(), greedy);
            assertEquals(new StepWriter.Written(first.text(), 6, "length"), first, "6 tokens, no stop string: ended by the length");
            assertEquals(tokens(PROMPT) + 6, w.pool().decodedTokens() - before, "the prompt, then its last token again in the fork and the generated tokens but the last");
            assertEquals(1, w.pool().openCount(), "the fork is freed, the context kept");

            before = w.pool().decodedTokens();
            StepWriter.Written again = c.write(List.of(), greedy);
            assertEquals(first, again, "greedy on the same context: the same step");
            assertEquals(1 + 5, w.pool().decodedTokens() - before, "nothing new in the context: its last token re-decoded, then 5 generated");

            before = w.pool().decodedTokens();
            StepWriter.Written second = c.write(List.of("Tom ran."), greedy);
            assertEquals(6, second.tokens());
            assertEquals(tokens(PROMPT + "Tom ran.\n\n") - tokens(PROMPT) + 6, w.pool().decodedTokens() - before, "the step and delimiter appended");

            before = w.pool().decodedTokens();
            c.write(List.of("Sue sat."), greedy); // not an extension of the held context: decoded afresh
            assertEquals(tokens(PROMPT + "Sue sat.\n\n") + 6, w.pool().decodedTokens() - before);
            assertEquals(1, w.pool().openCount(), "the old context's session was freed");

            // a stop string inside the greedy step: the text is cut before it, reason "stop"
            String stop = first.text().substring(first.text().length() / 2, first.text().length() / 2 + 1);
            int at = first.text().indexOf(stop);
            StepWriter.Written stopped = c.write(List.of(), new StepWriter.Request(6, SamplingOptions.greedy(), List.of(stop)));
            assertEquals(first.text().substring(0, at), stopped.text());
            assertEquals("stop", stopped.finishReason());

            c.close();
            assertEquals(0, w.pool().openCount(), "closing the conversation frees its context");
            c.close();
        }
        assertFalse(stories.isClosed(), "the caller's model stays open");
    }

    /** Two KV slots per conversation; close() stops the writer's generator thread. */
    @Test
    void slotsPerConversationAndTheGeneratorThread() throws Exception {
        java.util.Set<Thread> before = RoutingLoopEdgesTest.threadsNamed("panscore-generator");
        LocalStepWriter w = new LocalStepWriter(stories, PromptTemplate.named("chatml"), 3, 512);
        java.util.Set<Thread> mine = RoutingLoopEdgesTest.threadsNamed("panscore-generator");
        mine.removeAll(before);
        assertEquals(6, w.pool().options().maxSequences(), "3 conversations x 2 slots");
        assertEquals(1, mine.size(), "one generator thread per writer");
        w.close();
        for (Thread t : mine) {
            assertFalse(t.isAlive(), "close() has stopped the generator");
        }
    }

    @Test
    void aLoadedModelIsClosedWithTheWriter() {
        LocalStepWriter w = LocalStepWriter.load(SharedModels.stories260K(), ModelOptions.defaults(), PromptTemplate.named("chatml"), 1, 256);
        Model m = w.pool().model();
        assertFalse(m.isClosed());
        w.close();
        assertTrue(m.isClosed());
        assertThrows(IllegalArgumentException.class,
                () -> LocalStepWriter.load(SharedModels.stories260K(), ModelOptions.defaults(), PromptTemplate.named("chatml"), 0, 256));
    }
}
