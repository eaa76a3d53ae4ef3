package io.panscore.api.server;

/**
 * Limits and address of the HTTP sidecar.
 *
 * @param host          address to bind (default 127.0.0.1: a sidecar serves its own host)
 * @param port          TCP port (0 = any free one)
 * @param maxBodyBytes  larger request bodies are refused with 413 (default 1 MiB)
 * @param maxTokens     a request whose text becomes more tokens is refused with 413 (default 8192)
 * @param stopTimeoutMs graceful shutdown waits this long for requests in flight (default 10 s)
 */
public record ServerOptions(String host, int port, int maxBodyBytes, int maxTokens, long stopTimeoutMs) {

    public ServerOptions {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        if (maxBodyBytes <= 0 || maxTokens <= 0 || stopTimeoutMs < 0) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }

    public static ServerOptions defaults() {
        return new ServerOptions("127.0.0.1", 8080, 1 << 20, 8192, 10_000);
    }

    public ServerOptions withPort(int p) {
        return new ServerOptions(host, p, maxBodyBytes, maxTokens, stopTimeoutMs);
    }

    public ServerOptions withHost(String h) {
        return new ServerOptions(h, port, maxBodyBytes, maxTokens, stopTimeoutMs);
    }

    public ServerOptions withMaxBodyBytes(int n) {
        return new ServerOptions(host, port, n, maxTokens, stopTimeoutMs);
    }

    public ServerOptions withMaxTokens(int n) {
        return new ServerOptions(host, port, maxBodyBytes, n, stopTimeoutMs);
    }
}
