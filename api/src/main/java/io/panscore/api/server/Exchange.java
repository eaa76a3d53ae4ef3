package io.panscore.api.server;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Blocker;

/**
 * One request handed to a {@link Protocol}: its method, path and body (already read within the
 * limits), and, for streaming answers, a server-sent-events writer.
 */
public final class Exchange {

    /** What {@link Protocol#handle} returns when it wrote the response itself. */
    public static final Object STREAMED = new Object();

    private final String method;
    private final String path;
    private final byte[] body;
    private final Request request;
    private final Response response;
    private final Callback callback;
    private final int maxTokens;
    private boolean started;

    Exchange(String method, String path, byte[] body, Request request, Response response, Callback callback, int maxTokens) {
        this.method = method;
        this.path = path;
        this.body = body;
        this.request = request;
        this.response = response;
        this.callback = callback;
        this.maxTokens = maxTokens;
    }

    public String method() {
        return method;
    }

    public String path() {
        return path;
    }

    /** The most tokens one request may carry (the server's limit; more is a 413). */
    public int maxTokens() {
        return maxTokens;
    }

    /** The body as a JSON object ({} when empty); 400 when it is not one. */
    public JsonNode json() {
        return RouterServer.parse(body);
    }

    /** Throws 405 unless the method is {@code allowed}. */
    public void requireMethod(String allowed) {
        RouterServer.requireMethod(method, allowed);
    }

    /** Whether a server-sent-events answer has begun (errors can then no longer change the status). */
    boolean started() {
        return started;
    }

    /**
     * Sends one server-sent event {@code data: <data>}, starting the 200 {@code text/event-stream}
     * answer on the first call; blocks until the bytes are written.
     *
     * @throws IOException when the client went away (the caller should then stop its work)
     */
    public void sendEvent(String data) throws IOException {
        if (!started) {
            started = true;
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
            response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        }
        try (Blocker.Callback done = Blocker.callback()) {
            response.write(false, ByteBuffer.wrap(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8)), done);
            done.block();
        }
    }

    /** Ends a server-sent-events answer (completes the response). */
    public void endEvents() {
        response.write(true, ByteBuffer.allocate(0), callback);
    }

    /** Ends a streamed answer that failed after it began: the connection is aborted. */
    void fail(Throwable why) {
        callback.failed(why);
    }

    Request request() {
        return request;
    }
}
