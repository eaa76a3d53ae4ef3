package io.panscore.kernel;

/** A native allocation failed (model weights, KV cache, output buffers). */
public class NativeMemoryException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public NativeMemoryException(int status, String message) {
        super(status, message);
    }
}
