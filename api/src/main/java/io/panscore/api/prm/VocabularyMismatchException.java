package io.panscore.api.prm;

import io.panscore.kernel.InvalidInputException;

/** The policy and reference models do not share one vocabulary, so their log-probs cannot be paired. */
public class VocabularyMismatchException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    public VocabularyMismatchException(String message) {
        super(0, message);
    }
}
