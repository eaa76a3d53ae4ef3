package io.panscore.kernel;

/** llama.cpp failed to decode a batch (no KV cache slot, a compute failure). The engine stays usable. */
public class DecodeException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public DecodeException(int status, String message) {
        super(status, message);
    }
}
