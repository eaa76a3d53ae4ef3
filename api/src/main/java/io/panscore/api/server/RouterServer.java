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
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.util.thread.Scheduler;
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
 * POST   /v1/route                    {"prompt": s} | {"messages": [...]}, policy, threshold, ... -> a routed trace ({@link RouteEndpoint})
 * GET    /health                                                                            -> {"status": "ok", ...}
 * GET    /metrics                                                                           -> Prometheus text format
 * </pre>
 * Errors are {"error": message, "type": kind} with 400 (bad request), 401 (API key), 404 (unknown
 * or closed session), 405, 408 (body too slow), 413 (body or token limit), 415 (not JSON), 429
 * (per-client session quota), 502 (the large model failed, /v1/route), 503 + Retry-After (no
 * capacity) or 500.
 *
 * <p>Defaults for a hostile neighbourhood: session ids are random 128-bit strings (a session's id
 * is its capability); an optional API key (Bearer); sessions unused for the TTL are closed; one
 * client (its {@code X-Client-Id}, else its address) holds at most a quota of the sessions; bodies
 * must be JSON ({@code Content-Type: application/json}, or none), so a web page's form or
 * {@code text/plain} POST is refused; bodies are read asynchronously (no thread waits on a slow
 * client) and must arrive within the read timeout; idle connections are closed; the metrics'
 * endpoint label takes a fixed set of values. Jetty serves requests on its thread pool; stopping
 * lets requests in flight finish (graceful), then closes the sessions it opened. Thread-safe.
 */
public final class RouterServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final GlimpRouter router;
    private final ServerOptions options;
    private final RouterMetrics metrics;
    private final Server server;
    private final Map<String, Owned> sessions = new ConcurrentHashMap<>();
    private final Map<String, Client> clients = new ConcurrentHashMap<>();
    private final int perClient;
    private final byte[] apiKey;
    private final SecureRandom random = new SecureRandom();
    private final ScheduledExecutorService sweeper;
    private final List<Protocol> protocols;
    private final RouteEndpoint routes;

    /** A session with its owner and when it was last used. */
    private static final class Owned {
        final String id;
        final GlimpRouter.RouterSession session;
        final Client client;
        volatile long lastUsed = System.nanoTime();

        Owned(String id, GlimpRouter.RouterSession session, Client client) {
            this.id = id;
            this.session = session;
            this.client = client;
        }
    }

    /** A client's open sessions (counted under its monitor). */
    private static final class Client {
        final String key;
        int open;

        Client(String key) {
            this.key = key;
        }
    }

    private RouterServer(GlimpRouter router, ServerOptions options, RouterMetrics metrics, List<Protocol> protocols, RouteEndpoint routes) {
        this.protocols = List.copyOf(protocols);
        this.routes = routes;
        this.router = router;
        this.options = options;
        this.metrics = metrics;
        this.perClient = options.maxSessionsPerClient() >= 0 ? options.maxSessionsPerClient() : Math.max(1, router.maxSessions() / 2);
        this.apiKey = options.apiKey() == null ? null : options.apiKey().getBytes(StandardCharsets.UTF_8);
        QueuedThreadPool threads = new QueuedThreadPool(64, 4);
        threads.setName("panscore-http");
        this.server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
        connector.setHost(options.host());
        connector.setPort(options.port());
        connector.setIdleTimeout(options.idleTimeoutMs());
        server.addConnector(connector);
        server.setHandler(new GracefulHandler(new Routes()));
        server.setErrorHandler(new JsonErrors()); // Jetty's own answers (malformed HTTP, ...) in the same JSON form
        server.setStopTimeout(options.stopTimeoutMs());
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("panscore-session-ttl").daemon().unstarted(r));
        if (options.sessionTtlMs() > 0) {
            long every = Math.max(10, Math.min(options.sessionTtlMs() / 4, 10_000));
            sweeper.scheduleWithFixedDelay(this::expire, every, every, TimeUnit.MILLISECONDS);
        }
    }

    /** Closes the sessions unused for the TTL. */
    private void expire() {
        long now = System.nanoTime();
        long ttl = TimeUnit.MILLISECONDS.toNanos(options.sessionTtlMs());
        for (Owned o : sessions.values()) {
            if (now - o.lastUsed > ttl) {
                closeSession(o);
            }
        }
    }

    private void closeSession(Owned o) {
        if (sessions.remove(o.id, o)) {
            synchronized (o.client) {
                o.client.open--;
                if (o.client.open == 0) {
                    clients.remove(o.client.key, o.client);
                }
            }
        }
        o.session.close();
    }

    /**
     * Starts serving. The router must have been built with {@code metrics} as its listener for the
     * glimpse metrics to move (see {@link io.panscore.api.router.GlimpRouter.Builder#listener}).
     */
    public static RouterServer start(GlimpRouter router, ServerOptions options, RouterMetrics metrics) throws Exception {
        return start(router, options, metrics, List.of());
    }

    /**
     * Starts serving the session/glimpse API and other protocols (e.g. the OpenAI-compatible one)
     * on the same port, with the same limits and API key. The server closes the protocols when it
     * stops.
     */
    public static RouterServer start(GlimpRouter router, ServerOptions options, RouterMetrics metrics, List<Protocol> protocols) throws Exception {
        return start(router, options, metrics, protocols, null);
    }

    /**
     * Starts serving, with the routing loop as {@code POST /v1/route} when {@code routes} is not
     * null (its router must be {@code router}). The server closes the protocols and the endpoint
     * when it stops.
     */
    public static RouterServer start(GlimpRouter router, ServerOptions options, RouterMetrics metrics, List<Protocol> protocols, RouteEndpoint routes)
            throws Exception {
        metrics.watchSessions(router);
        RouterServer s = new RouterServer(router, options, metrics, protocols, routes);
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
            sweeper.shutdownNow();
            server.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            throw new IOException("stopping the HTTP server failed: " + e.getMessage(), e);
        } finally {
            sessions.values().forEach(o -> o.session.close());
            sessions.clear();
            clients.clear();
            for (Protocol p : protocols) {
                try {
                    p.close();
                } catch (RuntimeException e) {
                    System.err.println("panscore: closing a protocol failed: " + e);
                }
            }
            if (routes != null) {
                routes.close();
            }
        }
    }

    /** Jetty's own error answers (a malformed request line or header, a bad chunk, ...) as {"error", "type"} JSON. */
    private static final class JsonErrors extends org.eclipse.jetty.server.handler.ErrorHandler {
        @Override
        public boolean errorPageForMethod(String method) {
            return true; // a body for every method (Jetty's default leaves DELETE, TRACE, ... without one)
        }

        @Override
        protected void generateResponse(Request request, Response response, int code, String message, Throwable cause, Callback callback) {
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
            String body = error(message != null ? message : "HTTP " + code, code >= 500 ? "internal" : "bad_request");
            response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        }

        @Override
        public ByteBuffer badMessageError(int status, String reason, org.eclipse.jetty.http.HttpFields.Mutable fields) {
            fields.put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
            return ByteBuffer.wrap(error(reason != null ? reason : "bad request", "bad_request").getBytes(StandardCharsets.UTF_8));
        }
    }

    private final class Routes extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            String path = Request.getPathInContext(request);
            String method = request.getMethod();
            Protocol protocol = protocolOf(path);
            String endpoint = protocol != null ? protocol.endpointOf(path) : endpointOf(path);
            try {
                authorize(request, path, method);
                if (method.equals("POST")) {
                    checkContentType(request);
                    readBody(request, response, callback, endpoint, protocol, body -> serve(protocol, method, path, request, response, callback, endpoint, body));
                } else {
                    serve(protocol, method, path, request, response, callback, endpoint, null);
                }
            } catch (HttpException e) {
                respond(request, response, callback, endpoint, protocol, () -> {
                    throw e;
                });
            }
            return true;
        }
    }

    private Protocol protocolOf(String path) {
        for (Protocol p : protocols) {
            if (p.serves(path)) {
                return p;
            }
        }
        return null;
    }

    private void serve(Protocol protocol, String method, String path, Request request, Response response, Callback callback, String endpoint, byte[] body) {
        if (protocol == null) {
            respond(request, response, callback, endpoint, null, () -> route(method, path, request, body));
            return;
        }
        Exchange exchange = new Exchange(method, path, body, request, response, callback, options.maxTokens());
        respond(request, response, callback, endpoint, protocol, () -> {
            Runnable restore = keepWhileWorking(request);
            try {
                Object out = protocol.handle(exchange);
                return out == Exchange.STREAMED ? STREAMED : new Result(200, out);
            } catch (RuntimeException | IOException e) {
                if (exchange.started()) { // the status is sent: the stream can only be cut
                    exchange.fail(e);
                    return STREAMED;
                }
                throw e;
            } finally {
                restore.run();
            }
        });
    }

    private static final Result STREAMED = new Result(200, Exchange.STREAMED);

    private interface Action {
        Result run() throws IOException;
    }

    /** Runs an action and writes its result, or the error it threw, as the response. */
    private void respond(Request request, Response response, Callback callback, String endpoint, Protocol protocol, Action action) {
        int status;
        String body;
        String type = "application/json";
        try {
            Result r = action.run();
            if (r == STREAMED) { // the protocol wrote the answer itself
                metrics.onRequest(endpoint, 200);
                return;
            }
            status = r.status;
            if (r.body instanceof RawText raw) {
                body = raw.text;
                type = raw.type;
            } else {
                body = JSON.writeValueAsString(r.body);
            }
        } catch (HttpException e) {
            status = e.status();
            if (e.unreadBody()) {
                // the rest of the body is left unread: the connection cannot carry another request
                response.getHeaders().put(HttpHeader.CONNECTION, "close");
            }
            if (status == 401) {
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
            }
            if (status == 429 || status == 503) {
                response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            }
            body = errorBody(protocol, status, e.getMessage(), e.param(), switch (status) {
                case 401 -> "unauthorized";
                case 404 -> "not_found";
                case 405 -> "method_not_allowed";
                case 408 -> "timeout";
                case 413 -> "too_large";
                case 415 -> "unsupported_media_type";
                case 429 -> "quota";
                case 502 -> "upstream";
                case 503 -> "capacity";
                default -> "bad_request";
            });
        } catch (ClosedException e) {
            status = 404;
            body = errorBody(protocol, status, e.getMessage(), null, "closed");
        } catch (CapacityException e) {
            status = 503;
            response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
            body = errorBody(protocol, status, e.getMessage(), null, "capacity");
        } catch (ContextOverflowException e) {
            status = 413;
            body = errorBody(protocol, status, e.getMessage(), null, "too_many_tokens");
        } catch (InvalidInputException e) {
            status = 400;
            body = errorBody(protocol, status, e.getMessage(), null, "invalid_input");
        } catch (PanscoreException | IOException e) {
            status = 500;
            body = errorBody(protocol, status, e.getMessage(), null, "internal");
        } catch (RuntimeException | StackOverflowError e) {
            status = 500;
            body = errorBody(protocol, status, String.valueOf(e), null, "internal");
        }
        metrics.onRequest(endpoint, status);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type.startsWith("application/json") ? "application/json; charset=utf-8" : type);
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
    }

    private static String errorBody(Protocol protocol, int status, String message, String param, String type) {
        return protocol == null ? error(message, type) : protocol.errorBody(status, message, type, param);
    }

    /** A response body that is not JSON (the metrics). */
    private record RawText(String text, String type) {}

    private void authorize(Request request, String path, String method) {
        if (apiKey == null || (path.equals("/health") && method.equals("GET"))) {
            return;
        }
        String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        byte[] given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).trim().getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (!MessageDigest.isEqual(given, apiKey)) { // constant time
            throw new HttpException(401, auth == null ? "this server needs an API key: send \"Authorization: Bearer <key>\"" : "wrong API key");
        }
    }

    /** JSON only: a form or text/plain POST (what a web page can send anywhere) is refused. */
    private static void checkContentType(Request request) {
        String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
        if (type == null) {
            return;
        }
        String mime = type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        if (!mime.equals("application/json") && !(mime.startsWith("application/") && mime.endsWith("+json"))) {
            throw new HttpException(415, "the body must be JSON (Content-Type: application/json), got \"" + type + "\"", true);
        }
    }

    /**
     * Reads the body without holding a thread while the client is slow (Jetty's demand callbacks),
     * within the size limit and the read timeout, then hands it on.
     */
    private void readBody(Request request, Response response, Callback callback, String endpoint, Protocol protocol, java.util.function.Consumer<byte[]> then) {
        long declared = request.getLength();
        if (declared > options.maxBodyBytes()) {
            throw new HttpException(413, "the body has " + declared + " bytes, more than the limit of " + options.maxBodyBytes(), true);
        }
        AtomicBoolean finished = new AtomicBoolean();
        ByteArrayOutputStream acc = new ByteArrayOutputStream();
        Scheduler.Task timeout = server.getScheduler().schedule(() -> {
            if (finished.compareAndSet(false, true)) {
                respond(request, response, callback, endpoint, protocol, () -> {
                    throw new HttpException(408, "the body did not arrive within " + options.readTimeoutMs() + " ms", true);
                });
            }
        }, options.readTimeoutMs(), TimeUnit.MILLISECONDS);
        Runnable reader = new Runnable() {
            @Override
            public void run() {
                while (!finished.get()) {
                    Content.Chunk chunk = request.read();
                    if (chunk == null) {
                        request.demand(this);
                        return;
                    }
                    if (Content.Chunk.isFailure(chunk)) {
                        if (finished.compareAndSet(false, true)) {
                            timeout.cancel();
                            Throwable why = chunk.getFailure();
                            respond(request, response, callback, endpoint, protocol, () -> {
                                throw new HttpException(400, "reading the body failed: " + why, true);
                            });
                        }
                        return;
                    }
                    ByteBuffer b = chunk.getByteBuffer();
                    int n = b.remaining();
                    if (acc.size() + (long) n > options.maxBodyBytes()) {
                        chunk.release();
                        if (finished.compareAndSet(false, true)) {
                            timeout.cancel();
                            respond(request, response, callback, endpoint, protocol, () -> {
                                throw new HttpException(413, "the body is larger than the limit of " + options.maxBodyBytes() + " bytes", true);
                            });
                        }
                        return;
                    }
                    byte[] bytes = new byte[n];
                    b.get(bytes);
                    acc.write(bytes, 0, n);
                    boolean last = chunk.isLast();
                    chunk.release();
                    if (last) {
                        if (finished.compareAndSet(false, true)) {
                            timeout.cancel();
                            then.accept(acc.toByteArray());
                        }
                        return;
                    }
                }
            }
        };
        reader.run();
    }

    private record Result(int status, Object body) {}

    private Result route(String method, String path, Request request, byte[] rawBody) throws IOException {
        String[] parts = path.split("/");
        if (path.equals("/metrics")) {
            requireMethod(method, "GET");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            metrics.write(out);
            return new Result(200, new RawText(out.toString(StandardCharsets.UTF_8), metrics.contentType()));
        }
        // "", "v1", "sessions", id, action
        if (path.equals("/health")) {
            requireMethod(method, "GET");
            return new Result(200, Map.of("status", "ok", "sessions", router.openSessions(), "threshold", router.threshold(), "mode",
                    router.entropyMode().label()));
        }
        if (path.equals("/v1/glimpse")) {
            requireMethod(method, "POST");
            JsonNode body = parse(rawBody);
            int[] tokens = contextTokens(body, "context");
            return new Result(200, decision(router.glimpseContext(tokens)));
        }
        if (path.equals("/v1/route")) {
            requireMethod(method, "POST");
            if (routes == null) {
                throw new HttpException(404, "this server routes no problems: serve with --large L.gguf or --large-url URL for POST /v1/route");
            }
            RouteEndpoint.Problem problem = routes.parse(parse(rawBody), options.maxTokens());
            Client client = hold(clientOf(request));
            Runnable restore = keepWhileWorking(request);
            try {
                return new Result(200, routes.route(problem));
            } finally {
                restore.run();
                release(client);
            }
        }
        if (path.equals("/v1/sessions")) {
            requireMethod(method, "POST");
            JsonNode body = parse(rawBody);
            int[] tokens = contextTokens(body, "prompt");
            if (!body.has("tokens") && !body.path("prompt").isTextual()) {
                // chat messages: the router's own session on them, so that appended steps build the
                // released probe context (the continued "<think>" turn) as RoutingLoop's sessions do
                List<ChatMessage> messages = messages(body);
                Owned o = admit(clientOf(request), () -> router.open(messages));
                return new Result(201, sessionInfo(o));
            }
            Owned o = admit(clientOf(request), () -> router.open(tokens));
            return new Result(201, sessionInfo(o));
        }
        if (parts.length >= 4 && parts.length <= 5 && parts[1].equals("v1") && parts[2].equals("sessions")) {
            Owned o = session(parts[3]);
            GlimpRouter.RouterSession s = o.session;
            String action = parts.length >= 5 ? parts[4] : "";
            switch (action) {
                case "" -> {
                    requireMethod(method, "DELETE");
                    closeSession(o);
                    return new Result(200, Map.of("closed", true, "session", o.id));
                }
                case "append" -> {
                    requireMethod(method, "POST");
                    JsonNode body = parse(rawBody);
                    if (body.has("tokens")) {
                        router.appendTokens(s, limited(tokens(body.get("tokens"))));
                    } else if (body.path("text").isTextual()) {
                        String text = body.get("text").asText();
                        checkTokens(router.model().tokenize(text, false, false).length);
                        router.append(s, text);
                    } else {
                        throw new HttpException(400, "append needs \"text\" (a string) or \"tokens\" (an array of ids)");
                    }
                    return new Result(200, sessionInfo(o));
                }
                case "glimpse" -> {
                    requireMethod(method, "POST");
                    return new Result(200, decision(router.glimpse(s)));
                }
                case "fork" -> {
                    requireMethod(method, "POST");
                    Owned f = admit(o.client, () -> router.fork(s));
                    return new Result(201, sessionInfo(f));
                }
                default -> throw new HttpException(404, "no such endpoint: " + path);
            }
        }
        throw new HttpException(404, "no such endpoint: " + path);
    }

    private Owned session(String id) {
        Owned o = sessions.get(id);
        if (o == null || o.session.isClosed()) {
            throw new HttpException(404, "no open session \"" + (id.length() > 40 ? id.substring(0, 40) + "..." : id) + "\"");
        }
        o.lastUsed = System.nanoTime();
        return o;
    }

    /** The client a request comes from: its X-Client-Id header (at most 64 characters), else its address. */
    private Client clientOf(Request request) {
        String id = request.getHeaders().get("X-Client-Id");
        String key = id != null && !id.isBlank() ? "id:" + (id.length() > 64 ? id.substring(0, 64) : id) : "addr:" + Request.getRemoteAddr(request);
        return clients.computeIfAbsent(key, Client::new);
    }

    /** Opens a session for a client within its quota, under a random 128-bit id. */
    private Owned admit(Client client, java.util.function.Supplier<GlimpRouter.RouterSession> open) {
        GlimpRouter.RouterSession s;
        synchronized (client) {
            try {
                if (perClient > 0 && client.open >= perClient) {
                    throw new HttpException(429, "this client holds " + client.open + " sessions, its quota; close some (DELETE /v1/sessions/{id})");
                }
                s = open.get();
            } catch (RuntimeException e) {
                if (client.open == 0) {
                    clients.remove(client.key, client); // no entry per failed stranger: the map stays bounded by open sessions
                }
                throw e;
            }
            client.open++;
            clients.putIfAbsent(client.key, client); // it may have been dropped while it had no session
        }
        byte[] bits = new byte[16];
        random.nextBytes(bits);
        Owned o = new Owned(HexFormat.of().formatHex(bits), s, client);
        sessions.put(o.id, o);
        return o;
    }

    /**
     * The connection's idle timeout does not cut a request whose body has arrived and whose answer
     * is being computed (a routed problem or a long generation moves no bytes for longer than the
     * timeout): it is off until the answer is ready (returns what restores it). Idle connections
     * between requests and slow bodies are still timed out.
     */
    private static Runnable keepWhileWorking(Request request) {
        org.eclipse.jetty.io.EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
        long idle = endPoint.getIdleTimeout();
        endPoint.setIdleTimeout(TimeUnit.DAYS.toMillis(1)); // no idle timeout while the answer is computed
        return () -> endPoint.setIdleTimeout(idle);
    }

    /** A running route counts as one of its client's sessions (it holds a router session): 429 beyond the quota. */
    private Client hold(Client client) {
        synchronized (client) {
            if (perClient > 0 && client.open >= perClient) {
                throw new HttpException(429, "this client holds " + client.open + " sessions and routes, its quota; wait for them or close sessions");
            }
            client.open++;
            clients.putIfAbsent(client.key, client);
        }
        return client;
    }

    private void release(Client client) {
        synchronized (client) {
            client.open--;
            if (client.open == 0) {
                clients.remove(client.key, client);
            }
        }
    }

    static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw new HttpException(405, method + " is not allowed here; use " + allowed);
        }
    }

    /** Parses a JSON object body; an empty body is {}. */
    static JsonNode parse(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            return JSON.createObjectNode();
        }
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (IOException | RuntimeException e) { // StreamConstraintsException (nesting, number length) included
            throw new HttpException(400, "the body is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (node == null || !node.isObject()) {
            throw new HttpException(400, "the body must be a JSON object");
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
            tokens = router.model().tokenize(router.renderChat(messages(body)), true, true);
        } else {
            throw new HttpException(400, "give \"" + textField + "\" (a string), \"messages\" (chat) or \"tokens\" (ids)");
        }
        if (tokens.length == 0) {
            throw new HttpException(400, "the context is empty");
        }
        return limited(tokens);
    }

    private static List<ChatMessage> messages(JsonNode body) {
        List<ChatMessage> messages = new ArrayList<>();
        for (JsonNode m : body.get("messages")) {
            if (!m.path("role").isTextual() || !m.path("content").isTextual()) {
                throw new HttpException(400, "each message needs string \"role\" and \"content\"");
            }
            messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return messages;
    }

    private int[] limited(int[] tokens) {
        checkTokens(tokens.length);
        return tokens;
    }

    private void checkTokens(int n) {
        if (n > options.maxTokens()) {
            throw new HttpException(413, "the request has " + n + " tokens, more than the limit of " + options.maxTokens());
        }
    }

    private static int[] tokens(JsonNode node) {
        if (!node.isArray()) {
            throw new HttpException(400, "\"tokens\" must be an array of token ids");
        }
        int[] t = new int[node.size()];
        for (int i = 0; i < t.length; i++) {
            if (!node.get(i).isIntegralNumber() || !node.get(i).canConvertToInt()) {
                throw new HttpException(400, "tokens[" + i + "] is not an integer");
            }
            t[i] = node.get(i).asInt();
        }
        return t;
    }

    private static Map<String, Object> sessionInfo(Owned o) {
        return Map.of("session", o.id, "tokens", o.session.length());
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

    /** The metrics label of a path: one of a fixed set, whatever paths clients send. */
    static String endpointOf(String path) {
        if (path.startsWith("/v1/sessions/")) {
            String[] p = path.split("/");
            if (p.length == 4) {
                return "/v1/sessions/{id}";
            }
            if (p.length == 5 && (p[4].equals("append") || p[4].equals("glimpse") || p[4].equals("fork"))) {
                return "/v1/sessions/{id}/" + p[4];
            }
            return "other";
        }
        return switch (path) {
            case "/v1/sessions", "/v1/glimpse", "/v1/route", "/health", "/metrics" -> path;
            default -> "other";
        };
    }
}
