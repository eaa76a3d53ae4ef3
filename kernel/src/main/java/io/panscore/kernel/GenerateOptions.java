package io.panscore.kernel;

import java.util.List;

/**
 * What one generation does.
 *
 * @param maxTokens   the most tokens to generate, >= 1 (the generation also ends when the session
 *                    fills the engine's context)
 * @param sampling    how each token is picked
 * @param stop        strings that end the generation when the generated text contains one; the
 *                    text then ends just before it (the stop string is not part of the output);
 *                    matched on the detokenized text, so a stop string may span tokens
 * @param topK        each generated token also carries the k most likely tokens of its
 *                    distribution and their log-probs; 0 for none
 * @param stopAtEndOfGeneration end when the model produces an end-of-generation token (EOS,
 *                    end-of-turn: llama.cpp's {@code llama_vocab_is_eog}); that token is reported but
 *                    adds no text
 */
public record GenerateOptions(int maxTokens, SamplingOptions sampling, List<String> stop, int topK, boolean stopAtEndOfGeneration) {

    public GenerateOptions {
        if (maxTokens < 1) {
            throw new InvalidInputException(1, "maxTokens must be >= 1, got " + maxTokens);
        }
        if (sampling == null) {
            throw new InvalidInputException(1, "sampling must not be null (SamplingOptions.greedy() for greedy decoding)");
        }
        if (stop == null) {
            throw new InvalidInputException(1, "stop must not be null (List.of() for none)");
        }
        for (String s : stop) {
            if (s == null || s.isEmpty()) {
                throw new InvalidInputException(1, "stop strings must be non-empty, got " + (s == null ? "null" : "\"\""));
            }
        }
        stop = List.copyOf(stop);
        if (topK < 0) {
            throw new InvalidInputException(1, "topK must be >= 0, got " + topK);
        }
    }

    /** Greedy decoding of up to {@code maxTokens} tokens, no stop strings, ending at end-of-generation tokens. */
    public static GenerateOptions greedy(int maxTokens) {
        return new GenerateOptions(maxTokens, SamplingOptions.greedy(), List.of(), 0, true);
    }

    public GenerateOptions withMaxTokens(int n) {
        return new GenerateOptions(n, sampling, stop, topK, stopAtEndOfGeneration);
    }

    public GenerateOptions withSampling(SamplingOptions s) {
        return new GenerateOptions(maxTokens, s, stop, topK, stopAtEndOfGeneration);
    }

    public GenerateOptions withStop(List<String> s) {
        return new GenerateOptions(maxTokens, sampling, s, topK, stopAtEndOfGeneration);
    }

    public GenerateOptions withTopK(int k) {
        return new GenerateOptions(maxTokens, sampling, stop, k, stopAtEndOfGeneration);
    }

    public GenerateOptions withStopAtEndOfGeneration(boolean b) {
        return new GenerateOptions(maxTokens, sampling, stop, topK, b);
    }
}
