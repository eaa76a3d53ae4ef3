package io.panscore.api.router;

import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.SamplingOptions;
import java.util.List;

/**
 * Writes the steps the routing loop sends to the large model (and the final answer). A
 * {@link Conversation} is one problem: the writer may keep its context between calls (a local
 * model keeps it in its KV cache).
 */
public interface StepWriter extends AutoCloseable {

    /** What one call writes: at most {@code maxTokens} tokens, ending before the first stop string. */
    record Request(int maxTokens, SamplingOptions sampling, List<String> stop) {
        public Request {
            if (maxTokens < 1) {
                throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
            }
            stop = List.copyOf(stop);
        }
    }

    /**
     * What was written.
     *
     * @param text         the text, cut before the stop string
     * @param tokens       tokens generated (by the writer's model)
     * @param finishReason why it ended: "stop", "length", "eog" (end of generation) or the writer's own word
     */
    record Written(String text, int tokens, String finishReason) {}

    /** One problem's conversation with the writer. */
    interface Conversation extends AutoCloseable {
        /**
         * Writes the text that follows the problem's messages and the accepted steps: the released
         * probe context (SPEC §2), an assistant turn {@code "<think>" + steps joined by "\n\n" + "\n\n"}
         * continued once there are steps, the generation prompt before the first.
         */
        Written write(List<String> steps, Request request);

        @Override
        void close();
    }

    /** Starts a problem. */
    Conversation open(List<ChatMessage> messages);

    /** A name for traces ("local:model.gguf", "http://..."). */
    String name();

    @Override
    void close();
}
