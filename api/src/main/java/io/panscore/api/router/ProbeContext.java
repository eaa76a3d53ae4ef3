package io.panscore.api.router;

/** How a GlimpRouter session opened on chat messages builds the context its glimpses read. */
public enum ProbeContext {
    /**
     * As the released code (GlimpRouter src/glimp_router.py): the conversation through the model's
     * chat template (Jinja) with the generation prompt; from the second step on, an assistant
     * message {@code "<think>" + steps joined by "\n\n" + "\n\n"} that is continued; the whole text
     * tokenized afresh at every step (the KV cache keeps the common prefix). The default.
     */
    RELEASED,
    /**
     * The conversation through the chat template with the generation prompt, then each accepted
     * step and the delimiter tokenized on their own and appended (cheaper; a token that would merge
     * across a step boundary is split there, and there is no {@code <think>}).
     */
    PIECEWISE
}
