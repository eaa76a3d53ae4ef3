package io.panscore.api.router;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A loopback HTTP server for the step-writer tests' OpenAI stubs: every request's body is handed
 * to {@code answer}, and its reply is sent back (an empty body with no length). Closing stops it.
 * Requests are served on the server's own thread; {@code answer} must be thread-safe.
 */
final class LoopbackHttp implements AutoCloseable {

    /** What to send back; {@code contentType} null sends no Content-Type header. */
    record Reply(int status, String body, String contentType) {}

    interface Answer {
        Reply answer(HttpExchange exchange, byte[] body) throws IOException;
    }

    private final HttpServer server;

    LoopbackHttp(Answer answer) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            Reply r = answer.answer(ex, ex.getRequestBody().readAllBytes());
            byte[] out = r.body().getBytes(StandardCharsets.UTF_8);
            if (r.contentType() != null) {
                ex.getResponseHeaders().add("Content-Type", r.contentType());
            }
            ex.sendResponseHeaders(r.status(), out.length == 0 ? -1 : out.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(out);
            }
        });
        server.start();
    }

    /** The OpenAI base URL of this server ({@code http://127.0.0.1:PORT/v1}). */
    String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
