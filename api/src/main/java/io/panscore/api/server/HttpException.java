package io.panscore.api.server;

/**
 * An HTTP error a handler raises: its status, a message for the client, and (for protocols whose
 * error object names it, such as OpenAI's {@code param}) the request field at fault. The shared
 * server piece turns it into the response in the serving protocol's error shape.
 */
public class HttpException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String param;
    private final boolean unreadBody;

    public HttpException(int status, String message) {
        this(status, message, null, false);
    }

    public HttpException(int status, String message, String param) {
        this(status, message, param, false);
    }

    HttpException(int status, String message, boolean unreadBody) {
        this(status, message, null, unreadBody);
    }

    private HttpException(int status, String message, String param, boolean unreadBody) {
        super(message);
        this.status = status;
        this.param = param;
        this.unreadBody = unreadBody;
    }

    public int status() {
        return status;
    }

    /** The request field at fault, or null. */
    public String param() {
        return param;
    }

    /** Whether the rest of the body was left unread (the connection is then closed). */
    boolean unreadBody() {
        return unreadBody;
    }
}
