package io.panscore.kernel;

/**
 * One generated token with the statistics of the distribution it was drawn from, computed by the
 * same fused reduction as scoring, on the unmodified distribution (temperature 1; the sampling
 * temperature and truncations do not apply): scoring the generated text afterwards gives the same
 * numbers.
 *
 * @param id              the token
 * @param logprob         its log-probability, nats
 * @param rank            1 + the number of tokens the model preferred to it (1 = the argmax)
 * @param entropy         the full-vocabulary entropy of the distribution, nats
 * @param argmax          the most likely token (lowest id on ties)
 * @param argmaxLogprob   its log-probability, nats
 * @param topIds          the k most likely tokens, best first (k = {@link GenerateOptions#topK()})
 * @param topLogprobs     their log-probabilities
 * @param endOfGeneration whether the token is an end-of-generation token (EOS, end of turn)
 */
public record GeneratedToken(int id, float logprob, int rank, float entropy, int argmax, float argmaxLogprob, int[] topIds,
        float[] topLogprobs, boolean endOfGeneration) {

    @Override
    public String toString() {
        return "GeneratedToken[id=" + id + ", logprob=" + logprob + ", rank=" + rank + ", entropy=" + entropy + ", eog=" + endOfGeneration + "]";
    }
}
