package io.panscore.api.server;

/**
 * Limits, address and access rules of the HTTP sidecar.
 *
 * @param host                 address to bind (default 127.0.0.1: a sidecar serves its own host)
 * @param port                 TCP port (0 = any free one)
 * @param maxBodyBytes         larger request bodies are refused with 413 (default 1 MiB)
 * @param maxTokens            a request whose text becomes more tokens is refused with 413 (default 8192)
 * @param stopTimeoutMs        graceful shutdown waits this long for requests in flight (default 10 s)
 * @param apiKey               when set, every request but {@code GET /health} needs
 *                             {@code Authorization: Bearer <key>} (else 401); null for none (default)
 * @param sessionTtlMs         a session unused this long is closed (default 10 minutes; 0 = never)
 * @param maxSessionsPerClient most open sessions one client may hold (429 beyond); a client is its
 *                             {@code X-Client-Id} header, else its address. 0 = no limit, -1 (default)
 *                             = half of the router's sessions (at least 1)
 * @param idleTimeoutMs        a connection silent this long is closed (default 30 s)
 * @param readTimeoutMs        a request body must have arrived this long after the request began,
 *                             else 408 and the connection is closed: a minimum data rate of
 *                             maxBodyBytes / readTimeout (default 10 s)
 */
public record ServerOptions(String host, int port, int maxBodyBytes, int maxTokens, long stopTimeoutMs, String apiKey, long sessionTtlMs,
        int maxSessionsPerClient, long idleTimeoutMs, long readTimeoutMs) {

    public ServerOptions {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        if (maxBodyBytes <= 0 || maxTokens <= 0 || stopTimeoutMs < 0) {
            throw new IllegalArgumentException("limits must be positive");
        }
        if (sessionTtlMs < 0 || maxSessionsPerClient < -1 || idleTimeoutMs <= 0 || readTimeoutMs <= 0) {
            throw new IllegalArgumentException("session TTL >= 0, per-client sessions >= -1, idle and read timeouts > 0");
        }
        if (apiKey != null && apiKey.isBlank()) {
            throw new IllegalArgumentException("an API key must not be blank");
        }
    }

    public ServerOptions(String host, int port, int maxBodyBytes, int maxTokens, long stopTimeoutMs) {
        this(host, port, maxBodyBytes, maxTokens, stopTimeoutMs, null, 600_000, -1, 30_000, 10_000);
    }

    public static ServerOptions defaults() {
        return new ServerOptions("127.0.0.1", 8080, 1 << 20, 8192, 10_000);
    }

    public ServerOptions withPort(int p) {
        return new ServerOptions(host, p, maxBodyBytes, maxTokens, stopTimeoutMs, apiKey, sessionTtlMs, maxSessionsPerClient, idleTimeoutMs, readTimeoutMs);
    }

    public ServerOptions withHost(String h) {
        return new ServerOptions(h, port, maxBodyBytes, maxTokens, stopTimeoutMs, apiKey, sessionTtlMs, maxSessionsPerClient, idleTimeoutMs, readTimeoutMs);
    }

    public ServerOptions withMaxBodyBytes(int n) {
        return new ServerOptions(host, port, n, maxTokens, stopTimeoutMs, apiKey, sessionTtlMs, maxSessionsPerClient, idleTimeoutMs, readTimeoutMs);
    }

    public ServerOptions withMaxTokens(int n) {
        return new ServerOptions(host, port, maxBodyBytes, n, stopTimeoutMs, apiKey, sessionTtlMs, maxSessionsPerClient, idleTimeoutMs, readTimeoutMs);
    }

    public ServerOptions withApiKey(String key) {
        return new ServerOptions(host, port, maxBodyBytes, maxTokens, stopTimeoutMs, key, sessionTtlMs, maxSessionsPerClient, idleTimeoutMs, readTimeoutMs);
    }

    public ServerOptions withSessionTtlMs(long ms) {
        return new ServerOptions(host, port, maxBodyBytes, maxTokens, stopTimeoutMs, apiKey, ms, maxSessionsPerClient, idleTimeoutMs, readTimeoutMs);
    }

    public ServerOptions withMaxSessionsPerClient(int n) {
        return new ServerOptions(host, port, maxBodyBytes, maxTokens, stopTimeoutMs, apiKey, sessionTtlMs, n, idleTimeoutMs, readTimeoutMs);
    }

    public ServerOptions withIdleTimeoutMs(long ms) {
        return new ServerOptions(host, port, maxBodyBytes, maxTokens, stopTimeoutMs, apiKey, sessionTtlMs, maxSessionsPerClient, ms, readTimeoutMs);
    }

    public ServerOptions withReadTimeoutMs(long ms) {
        return new ServerOptions(host, port, maxBodyBytes, maxTokens, stopTimeoutMs, apiKey, sessionTtlMs, maxSessionsPerClient, idleTimeoutMs, ms);
    }

    @Override
    public String toString() {
        return "ServerOptions[" + host + ":" + port + ", body " + maxBodyBytes + ", tokens " + maxTokens + ", api key " + (apiKey == null ? "none" : "set")
                + ", ttl " + sessionTtlMs + " ms, per client " + maxSessionsPerClient + ", idle " + idleTimeoutMs + " ms, read " + readTimeoutMs + " ms]";
    }
}
