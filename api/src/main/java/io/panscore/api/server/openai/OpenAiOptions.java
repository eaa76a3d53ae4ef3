package io.panscore.api.server.openai;

/**
 * What the OpenAI-compatible endpoints serve with.
 *
 * @param modelName         the model's id in {@code /v1/models} and answers; requests naming another
 *                          model get 404 ({@code model_not_found}); a request without "model" is served
 * @param scoreContext      tokens of the scoring engine's context (echo and prompt log-probs): the
 *                          longest prompt that can be scored
 * @param generationContext KV cache tokens shared by the generations in flight (prompt + output)
 * @param maxGenerations    generations decoded together (session slots); more wait for capacity (503)
 * @param threads           threads for the model (0 = all cores)
 * @param maxTopLogprobs    the largest {@code logprobs} / {@code top_logprobs} /
 *                          {@code prompt_logprobs} accepted (OpenAI's chat allows 20)
 * @param chatTemplate      the Jinja chat template for {@code messages} when the model has none or
 *                          to override its own; null for the model's {@code tokenizer.chat_template}
 * @param addSpecialTokens  the default of {@code add_special_tokens} for text prompts of
 *                          {@code /v1/completions} and {@code /tokenize}: true (vLLM's default) prepends
 *                          BOS where the model's tokenizer asks for one; false suits clients that count
 *                          tokens without it (lm-evaluation-harness's remote tokenizer with text requests)
 */
public record OpenAiOptions(String modelName, int scoreContext, int generationContext, int maxGenerations, int threads, int maxTopLogprobs,
        String chatTemplate, boolean addSpecialTokens) {

    public OpenAiOptions {
        if (modelName == null || modelName.isBlank()) {
            throw new IllegalArgumentException("the model name must not be blank");
        }
        if (scoreContext < 2 || generationContext < 2 || maxGenerations < 1 || threads < 0 || maxTopLogprobs < 0) {
            throw new IllegalArgumentException("contexts >= 2 tokens, at least one generation, threads >= 0, maxTopLogprobs >= 0");
        }
    }

    /** Defaults for a model name: 4096-token contexts, 4 generations at once, top log-probs up to 20. */
    public static OpenAiOptions defaults(String modelName) {
        return new OpenAiOptions(modelName, 4096, 4096, 4, 0, 20, null, true);
    }

    public OpenAiOptions withContexts(int score, int generation) {
        return new OpenAiOptions(modelName, score, generation, maxGenerations, threads, maxTopLogprobs, chatTemplate, addSpecialTokens);
    }

    public OpenAiOptions withMaxGenerations(int n) {
        return new OpenAiOptions(modelName, scoreContext, generationContext, n, threads, maxTopLogprobs, chatTemplate, addSpecialTokens);
    }

    public OpenAiOptions withThreads(int n) {
        return new OpenAiOptions(modelName, scoreContext, generationContext, maxGenerations, n, maxTopLogprobs, chatTemplate, addSpecialTokens);
    }

    public OpenAiOptions withMaxTopLogprobs(int n) {
        return new OpenAiOptions(modelName, scoreContext, generationContext, maxGenerations, threads, n, chatTemplate, addSpecialTokens);
    }

    public OpenAiOptions withAddSpecialTokens(boolean b) {
        return new OpenAiOptions(modelName, scoreContext, generationContext, maxGenerations, threads, maxTopLogprobs, chatTemplate, b);
    }

    public OpenAiOptions withChatTemplate(String t) {
        return new OpenAiOptions(modelName, scoreContext, generationContext, maxGenerations, threads, maxTopLogprobs, t, addSpecialTokens);
    }
}
