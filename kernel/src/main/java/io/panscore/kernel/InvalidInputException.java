package io.panscore.kernel;

/** The input cannot be scored: an empty sequence or range, a token id outside the vocabulary, a sequence longer than the context, or an invalid parameter. Nothing was decoded; the engine stays usable. */
public class InvalidInputException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(int status, String message) {
        super(status, message);
    }
}
