package io.panscore.kernel;

/**
 * Base of every exception panscore throws for a failure it can name. Each subclass is one kind of
 * problem a caller may want to handle differently; {@link #status()} is the native status code
 * behind it (0 when the failure was detected in Java).
 */
public class PanscoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;

    public PanscoreException(String message) {
        this(0, message, null);
    }

    public PanscoreException(int status, String message) {
        this(status, message, null);
    }

    public PanscoreException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The {@code ps_status} code from panscore.h, or 0 for failures found on the Java side. */
    public int status() {
        return status;
    }
}
