package io.panscore.kernel;

import java.util.List;

/**
 * The result of one generation.
 *
 * @param text         the generated text (the pieces of the generated tokens, UTF-8 decoded), cut
 *                     before a stop string; an end-of-generation token adds no text
 * @param tokens       every sampled token in order, including an end-of-generation token and the
 *                     tokens that completed a stop string
 * @param finishReason why it ended
 * @param stopString   the stop string that ended it, or null
 */
public record Generation(String text, List<GeneratedToken> tokens, FinishReason finishReason, String stopString) {

    /** Why a generation ended. */
    public enum FinishReason {
        /** The text contains one of the stop strings. */
        STOP_STRING,
        /** The model produced an end-of-generation token. */
        END_OF_GENERATION,
        /** {@link GenerateOptions#maxTokens()} tokens were generated. */
        MAX_TOKENS,
        /** The session filled the engine's context. */
        CONTEXT_FULL,
        /** {@link Generator.Handle#cancel()} was called, or the generator closed. */
        CANCELLED
    }

    public Generation {
        tokens = List.copyOf(tokens);
    }

    /** The generated token ids. */
    public int[] tokenIds() {
        return tokens.stream().mapToInt(GeneratedToken::id).toArray();
    }
}
