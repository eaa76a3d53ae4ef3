package io.panscore.kernel;

/** The requested compute backend or device is not available in this build or on this machine. */
public class BackendUnavailableException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public BackendUnavailableException(int status, String message) {
        super(status, message);
    }
}
