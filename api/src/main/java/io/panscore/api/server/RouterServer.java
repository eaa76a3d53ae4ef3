package io.panscore.api.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.panscore.api.router.Decision;
import io.panscore.api.router.GlimpRouter;
import io.panscore.kernel.CapacityException;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.ClosedException;
import io.panscore.kernel.ContextOverflowException;
import io.panscore.kernel.InvalidInputException;
import io.panscore.kernel.PanscoreException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * GlimpRouter over HTTP, for routers written in other languages (the published pipeline is
 * Python over HTTP). JSON in and out:
 * <pre>
 * POST   /v1/sessions                 {"prompt": s} | {"messages": [...]} | {"tokens": [...]}  -> 201 {"session", "tokens"}
 * POST   /v1/sessions/{id}/append     {"text": s} (the delimiter is added) | {"tokens": [...]}  -> {"session", "tokens"}
 * POST   /v1/sessions/{id}/glimpse                                                          -> a decision
 * POST   /v1/sessions/{id}/fork                                                             -> 201 {"session", "tokens"}
 * DELETE /v1/sessions/{id}                                                                  -> {"closed": true}
 * POST   /v1/glimpse                  {"context": s} | {"messages": [...]} | {"tokens": [...]}  -> a decision, no session kept
 * GET    /health                                                                            -> {"status": "ok", ...}
 * GET    /metrics                                                                           -> Prometheus text format
 * </pre>
 * Errors are {"error": message, "type": kind} with 400 (bad request), 404 (unknown or closed
 * session), 405, 413 (body or token limit), 503 + Retry-After (no capacity) or 500. Jetty serves
 * requests on its thread pool; stopping lets requests in flight finish (graceful), then closes the
 * sessions it opened. Thread-safe.
 */
public final class RouterServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final GlimpRouter router;
    private final ServerOptions options;
    private final RouterMetrics metrics;
    private final Server server;
    private final Map<Long, GlimpRouter.RouterSession> sessions = new ConcurrentHashMap<>();

    private RouterServer(GlimpRouter router, ServerOptions options, RouterMetrics metrics) {
        this.router = router;
        this.options = options;
        this.metrics = metrics;
        QueuedThreadPool threads = new QueuedThreadPool(64, 4);
        threads.setName("panscore-http");
        this.server = new Server(threads);
        ServerConnector connector = new ServerConnector(server);
        connector.setHost(options.host());
        connector.setPort(options.port());
        server.addConnector(connector);
        server.setHandler(new GracefulHandler(new Routes()));
        server.setStopTimeout(options.stopTimeoutMs());
    }

    /**
     * Starts serving. The router must have been built with {@code metrics} as its listener for the
     * glimpse metrics to move (see {@link io.panscore.api.router.GlimpRouter.Builder#listener}).
     */
    public static RouterServer start(GlimpRouter router, ServerOptions options, RouterMetrics metrics) throws Exception {
        metrics.watchSessions(router);
        RouterServer s = new RouterServer(router, options, metrics);
        s.server.start();
        return s;
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    }

    /** Blocks until the server stops. */
    public void join() throws InterruptedException {
        server.join();
    }

    /** Stops accepting, lets requests in flight finish (up to the stop timeout), closes the sessions it opened. */
    @Override
    public void close() throws IOException {
        try {
            server.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            throw new IOException("stopping the HTTP server failed: " + e.getMessage(), e);
        } finally {
            sessions.values().forEach(GlimpRouter.RouterSession::close);
            sessions.clear();
        }
    }

    /** An HTTP error with its status. */
    private static final class HttpError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;
        final boolean unreadBody;

        HttpError(int status, String message) {
            this(status, message, false);
        }

        HttpError(int status, String message, boolean unreadBody) {
            super(message);
            this.status = status;
            this.unreadBody = unreadBody;
        }
    }

    private final class Routes extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            String path = Request.getPathInContext(request);
            String method = request.getMethod();
            String endpoint = endpointOf(path);
            int status;
            String body;
            String type = "application/json";
            try {
                if (path.equals("/metrics") && method.equals("GET")) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    metrics.write(out);
                    status = 200;
                    body = out.toString(StandardCharsets.UTF_8);
                    type = metrics.contentType();
                } else {
                    Result r = route(method, path, request);
                    status = r.status;
                    body = JSON.writeValueAsString(r.body);
                }
            } catch (HttpError e) {
                status = e.status;
                if (e.unreadBody) {
                    // the rest of the body is left unread: the connection cannot carry another request
                    response.getHeaders().put(HttpHeader.CONNECTION, "close");
                }
                body = error(e.getMessage(), status == 405 ? "method_not_allowed" : status == 404 ? "not_found" : "bad_request");
            } catch (ClosedException e) {
                status = 404;
                body = error(e.getMessage(), "closed");
            } catch (CapacityException e) {
                status = 503;
                response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                body = error(e.getMessage(), "capacity");
            } catch (ContextOverflowException e) {
                status = 413;
                body = error(e.getMessage(), "too_many_tokens");
            } catch (InvalidInputException e) {
                status = 400;
                body = error(e.getMessage(), "invalid_input");
            } catch (PanscoreException | IOException e) {
                status = 500;
                body = error(e.getMessage(), "internal");
            } catch (RuntimeException e) {
                status = 500;
                body = error(String.valueOf(e), "internal");
            }
            metrics.onRequest(endpoint, status);
            response.setStatus(status);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, type.startsWith("application/json") ? "application/json; charset=utf-8" : type);
            response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
            return true;
        }
    }

    private record Result(int status, Object body) {}

    private Result route(String method, String path, Request request) throws IOException {
        String[] parts = path.split("/");
        // "", "v1", "sessions", id, action
        if (path.equals("/health")) {
            requireMethod(method, "GET");
            return new Result(200, Map.of("status", "ok", "sessions", router.openSessions(), "threshold", router.threshold(), "mode",
                    router.entropyMode().label()));
        }
        if (path.equals("/v1/glimpse")) {
            requireMethod(method, "POST");
            JsonNode body = readBody(request);
            int[] tokens = contextTokens(body, "context");
            return new Result(200, decision(router.glimpseContext(tokens)));
        }
        if (path.equals("/v1/sessions")) {
            requireMethod(method, "POST");
            JsonNode body = readBody(request);
            GlimpRouter.RouterSession s = router.open(contextTokens(body, "prompt"));
            sessions.put(s.id(), s);
            return new Result(201, sessionInfo(s));
        }
        if (parts.length >= 4 && parts[1].equals("v1") && parts[2].equals("sessions")) {
            GlimpRouter.RouterSession s = session(parts[3]);
            String action = parts.length >= 5 ? parts[4] : "";
            switch (action) {
                case "" -> {
                    requireMethod(method, "DELETE");
                    sessions.remove(s.id());
                    s.close();
                    return new Result(200, Map.of("closed", true, "session", s.id()));
                }
                case "append" -> {
                    requireMethod(method, "POST");
                    JsonNode body = readBody(request);
                    if (body.has("tokens")) {
                        router.appendTokens(s, limited(tokens(body.get("tokens"))));
                    } else if (body.path("text").isTextual()) {
                        String text = body.get("text").asText();
                        checkTokens(router.model().tokenize(text, false, false).length);
                        router.append(s, text);
                    } else {
                        throw new HttpError(400, "append needs \"text\" (a string) or \"tokens\" (an array of ids)");
                    }
                    return new Result(200, sessionInfo(s));
                }
                case "glimpse" -> {
                    requireMethod(method, "POST");
                    return new Result(200, decision(router.glimpse(s)));
                }
                case "fork" -> {
                    requireMethod(method, "POST");
                    GlimpRouter.RouterSession f = router.fork(s);
                    sessions.put(f.id(), f);
                    return new Result(201, sessionInfo(f));
                }
                default -> throw new HttpError(404, "no such endpoint: " + path);
            }
        }
        throw new HttpError(404, "no such endpoint: " + path);
    }

    private GlimpRouter.RouterSession session(String id) {
        long n;
        try {
            n = Long.parseLong(id);
        } catch (NumberFormatException e) {
            throw new HttpError(404, "no session \"" + id + "\"");
        }
        GlimpRouter.RouterSession s = sessions.get(n);
        if (s == null || s.isClosed()) {
            throw new HttpError(404, "no open session " + id);
        }
        return s;
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw new HttpError(405, method + " is not allowed here; use " + allowed);
        }
    }

    /** Reads a JSON object body within the size limit; an empty body is {}. */
    private JsonNode readBody(Request request) throws IOException {
        long declared = request.getLength();
        if (declared > options.maxBodyBytes()) {
            throw new HttpError(413, "the body has " + declared + " bytes, more than the limit of " + options.maxBodyBytes(), true);
        }
        byte[] bytes;
        try (InputStream in = Content.Source.asInputStream(request)) {
            bytes = in.readNBytes(options.maxBodyBytes() + 1);
        }
        if (bytes.length > options.maxBodyBytes()) {
            throw new HttpError(413, "the body is larger than the limit of " + options.maxBodyBytes() + " bytes", true);
        }
        if (bytes.length == 0) {
            return JSON.createObjectNode();
        }
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new HttpError(400, "the body is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (node == null || !node.isObject()) {
            throw new HttpError(400, "the body must be a JSON object");
        }
        return node;
    }

    /** The context of a request: text (field {@code textField}), chat messages, or token ids. */
    private int[] contextTokens(JsonNode body, String textField) {
        int[] tokens;
        if (body.has("tokens")) {
            tokens = tokens(body.get("tokens"));
        } else if (body.path(textField).isTextual()) {
            tokens = router.model().tokenize(body.get(textField).asText(), true, true);
        } else if (body.path("messages").isArray()) {
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : body.get("messages")) {
                if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                    throw new HttpError(400, "each message needs string \"role\" and \"content\"");
                }
                messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
            }
            tokens = router.model().tokenize(router.renderChat(messages), true, true);
        } else {
            throw new HttpError(400, "give \"" + textField + "\" (a string), \"messages\" (chat) or \"tokens\" (ids)");
        }
        if (tokens.length == 0) {
            throw new HttpError(400, "the context is empty");
        }
        return limited(tokens);
    }

    private int[] limited(int[] tokens) {
        checkTokens(tokens.length);
        return tokens;
    }

    private void checkTokens(int n) {
        if (n > options.maxTokens()) {
            throw new HttpError(413, "the request has " + n + " tokens, more than the limit of " + options.maxTokens());
        }
    }

    private static int[] tokens(JsonNode node) {
        if (!node.isArray()) {
            throw new HttpError(400, "\"tokens\" must be an array of token ids");
        }
        int[] t = new int[node.size()];
        for (int i = 0; i < t.length; i++) {
            if (!node.get(i).canConvertToInt()) {
                throw new HttpError(400, "tokens[" + i + "] is not an integer");
            }
            t[i] = node.get(i).asInt();
        }
        return t;
    }

    private static Map<String, Object> sessionInfo(GlimpRouter.RouterSession s) {
        return Map.of("session", s.id(), "tokens", s.length());
    }

    private static ObjectNode decision(Decision d) {
        ObjectNode n = JSON.createObjectNode();
        n.put("route", d.route().name().toLowerCase(Locale.ROOT));
        n.put("entropy", d.entropy());
        n.put("exact_entropy", d.exactEntropy());
        n.put("top_k_entropy", d.topKEntropy());
        n.put("threshold", d.threshold());
        n.put("mode", d.mode().label());
        n.put("token", d.token());
        n.put("token_text", d.tokenText());
        n.put("logprob", d.logprob());
        return n;
    }

    private static String error(String message, String type) {
        ObjectNode n = JSON.createObjectNode();
        n.put("error", message);
        n.put("type", type);
        return n.toString();
    }

    /** A low-cardinality name for the metrics label. */
    private static String endpointOf(String path) {
        if (path.startsWith("/v1/sessions/")) {
            String[] p = path.split("/");
            return p.length >= 5 ? "/v1/sessions/{id}/" + p[4] : "/v1/sessions/{id}";
        }
        return switch (path) {
            case "/v1/sessions", "/v1/glimpse", "/health", "/metrics" -> path;
            default -> "other";
        };
    }
}
