package io.panscore.kernel;

/**
 * No room: every session slot is taken, the KV cache is full, or a queue of waiting requests is.
 * Back-pressure, not a bug: close sessions, wait, or retry later. Nothing was changed.
 */
public class CapacityException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public CapacityException(int status, String message) {
        super(status, message);
    }
}
