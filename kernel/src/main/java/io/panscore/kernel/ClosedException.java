package io.panscore.kernel;

/** A model or engine was used after close(). */
public class ClosedException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public ClosedException(String message) {
        super(0, message);
    }
}
