package io.panscore.api;

/**
 * One scored position of a text.
 *
 * @param position      index of the token in the tokenized text
 * @param id            the token id
 * @param text          the token's text
 * @param logprob       log p(token | everything before it), nats
 * @param entropy       entropy of the model's full next-token distribution at this position, nats
 * @param rank          1 + number of tokens the model preferred to this one
 * @param argmaxId      the model's most likely token here
 * @param argmaxText    its text
 * @param argmaxLogprob its log-prob
 */
public record ScoredToken(int position, int id, String text, double logprob, double entropy, int rank, int argmaxId,
        String argmaxText, double argmaxLogprob) {

    /** -logprob, nats. */
    public double surprisal() {
        return -logprob;
    }
}
