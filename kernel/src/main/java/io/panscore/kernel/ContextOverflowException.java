package io.panscore.kernel;

/** A sequence is longer than the engine's context (its KV cache size). */
public class ContextOverflowException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    public ContextOverflowException(int status, String message) {
        super(status, message);
    }
}
