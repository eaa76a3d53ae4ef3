package io.panscore.api;

import java.util.List;

/**
 * One scored position of a text. Log-probs and entropies are natural logs (nats), computed in
 * float32 by the native kernel (the doubles here hold those float values exactly).
 *
 * @param position      index of the token in the tokenized text (0 is the first token, a BOS where
 *                      the model adds one; it is never scored: nothing precedes it)
 * @param id            the token id
 * @param text          the token's exact text piece: a SentencePiece token "▁w" is " w", so the
 *                      texts of all tokens after a BOS concatenate to the text (with a leading
 *                      space where a SentencePiece tokenizer adds one in front of the text)
 * @param logprob       log p(token | everything before it), nats
 * @param entropy       entropy of the model's full next-token distribution at this position, nats
 * @param rank          1-based: 1 + number of tokens the model preferred to this one (1 = the argmax)
 * @param argmaxId      the model's most likely token here
 * @param argmaxText    its text
 * @param argmaxLogprob its log-prob, nats
 * @param top           the k most likely tokens here, best first, when top-k was asked for
 *                      ({@code ScoreOptions.withTopK}); empty otherwise
 */
public record ScoredToken(int position, int id, String text, double logprob, double entropy, int rank, int argmaxId,
        String argmaxText, double argmaxLogprob, List<Alternative> top) {

    /** One of the top-k tokens at a position. */
    public record Alternative(int id, String text, double logprob) {}

    public ScoredToken {
        top = top == null ? List.of() : List.copyOf(top);
    }

    /** A scored position without top-k alternatives. */
    public ScoredToken(int position, int id, String text, double logprob, double entropy, int rank, int argmaxId, String argmaxText,
            double argmaxLogprob) {
        this(position, id, text, logprob, entropy, rank, argmaxId, argmaxText, argmaxLogprob, List.of());
    }

    /** -logprob, nats. */
    public double surprisal() {
        return -logprob;
    }
}
