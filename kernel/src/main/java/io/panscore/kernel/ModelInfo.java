package io.panscore.kernel;

/**
 * What a loaded model is.
 *
 * @param vocabSize    valid token ids are {@code [0, vocabSize)}
 * @param contextTrain context length the model was trained with, in tokens
 * @param embedding    hidden size
 * @param layers       transformer blocks
 * @param bos          beginning-of-sequence token id, -1 if none
 * @param eos          end-of-sequence token id, -1 if none
 * @param eot          end-of-turn token id, -1 if none
 * @param addsBos      whether tokenizing with special tokens prepends BOS
 * @param parameters   number of weights
 * @param sizeBytes    size of the weights in bytes
 * @param architecture {@code general.architecture}, e.g. "qwen2"
 * @param name         {@code general.name}, "" if absent
 */
public record ModelInfo(int vocabSize, int contextTrain, int embedding, int layers, int bos, int eos, int eot,
        boolean addsBos, long parameters, long sizeBytes, String architecture, String name) {}
