package io.panscore.kernel;

/** A token id is negative or not below the vocabulary size. */
public class TokenOutOfRangeException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    public TokenOutOfRangeException(int status, String message) {
        super(status, message);
    }
}
