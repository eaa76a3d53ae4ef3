package io.panscore.kernel;

/** The model file is missing, unreadable, not GGUF, truncated or otherwise not loadable by llama.cpp. */
public class ModelLoadException extends PanscoreException {
    private static final long serialVersionUID = 1L;

    public ModelLoadException(int status, String message) {
        super(status, message);
    }
}
