package io.panscore.api.server;

import java.io.IOException;

/**
 * A protocol served on the same server as the session/glimpse API (for example the
 * OpenAI-compatible one in {@code io.panscore.api.server.openai}). The shared piece
 * ({@link RouterServer}) authorizes, checks the content type, reads the body within the limits and
 * the read timeout, maps exceptions to statuses and writes errors in the protocol's shape; the
 * protocol only interprets requests.
 */
public interface Protocol extends AutoCloseable {

    /** Whether this protocol serves the path. */
    boolean serves(String path);

    /** The metrics label of a path it serves: one of a fixed set, whatever paths clients send. */
    String endpointOf(String path);

    /**
     * Serves one request. Returns the JSON body of a 200 answer (a Jackson-serializable object),
     * or {@link Exchange#STREAMED} when it wrote and completed the response itself (server-sent
     * events). Errors are thrown: {@link HttpException}, or panscore's kernel exceptions (mapped to
     * 400, 404, 413, 503, 500 as for the session API).
     */
    Object handle(Exchange exchange) throws IOException;

    /**
     * An error body in this protocol's shape.
     *
     * @param type  panscore's kind of error ("bad_request", "too_many_tokens", "capacity", ...)
     * @param param the request field at fault, or null
     */
    String errorBody(int status, String message, String type, String param);

    /** Frees what the protocol holds; called when the server stops. */
    @Override
    default void close() {}
}
