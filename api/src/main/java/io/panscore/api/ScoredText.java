package io.panscore.api;

import java.util.List;

/**
 * A text scored token by token. The first token has no prediction and is not in {@code tokens}.
 *
 * @param tokens     the scored positions in order
 * @param tokenCount number of tokens the text became (including a BOS the model adds)
 */
public record ScoredText(List<ScoredToken> tokens, int tokenCount) {

    public ScoredText {
        tokens = List.copyOf(tokens);
    }

    /** Mean surprisal over the scored positions, nats. */
    public double meanSurprisal() {
        return tokens.stream().mapToDouble(ScoredToken::surprisal).average().orElse(Double.NaN);
    }

    /** exp(mean surprisal). */
    public double perplexity() {
        return Math.exp(meanSurprisal());
    }

    /** Mean full-vocabulary entropy, nats. */
    public double meanEntropy() {
        return tokens.stream().mapToDouble(ScoredToken::entropy).average().orElse(Double.NaN);
    }
}
