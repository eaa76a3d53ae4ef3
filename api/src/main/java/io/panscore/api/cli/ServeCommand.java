package io.panscore.api.cli;

import io.panscore.api.router.EntropyMode;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.server.RouterMetrics;
import io.panscore.api.server.RouterServer;
import io.panscore.api.server.ServerOptions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panscore serve --model M --port P}: the GlimpRouter HTTP sidecar. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve GlimpRouter over HTTP: sessions, glimpses, /health and Prometheus /metrics.",
                "Stops gracefully on SIGTERM / Ctrl-C (requests in flight finish)."})
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, description = "the small model (GGUF)")
    Path model;

    @Option(names = "--port", description = "Default: ${DEFAULT-VALUE}")
    int port = 8080;

    @Option(names = "--host", description = "address to bind. Default: ${DEFAULT-VALUE}")
    String host = "127.0.0.1";

    @Option(names = "--threshold", description = "tau: route to the large model when entropy >= tau. Default: ${DEFAULT-VALUE}")
    double threshold = 1.0;

    @Option(names = "--mode", description = "top-k (top-20 renormalised: the released GlimpRouter code, for which tau = 1.0) or exact "
            + "(full vocabulary: larger, calibrate tau); answers carry it as \"mode\". Default: ${DEFAULT-VALUE}")
    String mode = "top-k";

    @Option(names = "--delimiter", description = "appended after each step (escapes \\n \\t understood). Default: \\n\\n")
    String delimiter = "\\n\\n";

    @Option(names = "--max-sessions", description = "Default: ${DEFAULT-VALUE}")
    int maxSessions = 64;

    @Option(names = "--ctx", description = "KV cache tokens shared by all sessions. Default: ${DEFAULT-VALUE}")
    int contextSize = 16384;

    @Option(names = "--max-wait-us", description = "how long a glimpse waits for others to batch with. Default: ${DEFAULT-VALUE}")
    long maxWaitMicros = 200;

    @Option(names = "--max-body", description = "largest request body in bytes. Default: ${DEFAULT-VALUE}")
    int maxBody = 1 << 20;

    @Option(names = "--max-tokens", description = "most tokens in one request. Default: ${DEFAULT-VALUE}")
    int maxTokens = 8192;

    @Option(names = "--threads", description = "threads for the model (0 = all cores). Default: ${DEFAULT-VALUE}")
    int threads = 0;

    @Option(names = "--gpu-layers", description = "layers offloaded to the GPU. Default: ${DEFAULT-VALUE}")
    int gpuLayers = 0;

    @Option(names = "--template", description = "how \"messages\" in requests are rendered: " + Templates.DESCRIPTION)
    String template = "model";

    @Option(names = "--api-key", description = "require \"Authorization: Bearer KEY\" on every request but GET /health (default: $PANSCORE_API_KEY if set, else none)")
    String apiKey = System.getenv("PANSCORE_API_KEY");

    @Option(names = "--session-ttl", description = "close a session unused for this many seconds (0 = never). Default: ${DEFAULT-VALUE}")
    long sessionTtlSeconds = 600;

    @Option(names = "--max-sessions-per-client", description = "sessions one client (X-Client-Id header, else address) may hold; 0 = no limit, -1 = half of --max-sessions. Default: ${DEFAULT-VALUE}")
    int maxSessionsPerClient = -1;

    @Option(names = "--one-shot-reserve", description = "KV tokens (and one session slot) kept for POST /v1/glimpse, so open sessions cannot starve it; -1 = a quarter of --ctx, at most --max-tokens. Default: ${DEFAULT-VALUE}")
    int oneShotReserve = -1;

    @Option(names = "--idle-timeout", description = "close a connection silent for this many seconds. Default: ${DEFAULT-VALUE}")
    long idleTimeoutSeconds = 30;

    @Option(names = "--read-timeout", description = "a request body must arrive within this many seconds (else 408). Default: ${DEFAULT-VALUE}")
    long readTimeoutSeconds = 10;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        RouterMetrics metrics = new RouterMetrics();
        EntropyMode m = switch (mode.toLowerCase(Locale.ROOT)) {
            case "exact" -> EntropyMode.EXACT;
            case "top-k", "topk", "top_k" -> EntropyMode.TOP_K;
            default -> throw new IllegalArgumentException("--mode must be exact or top-k, got " + mode);
        };
        int reserveTokens = oneShotReserve >= 0 ? oneShotReserve : Math.min(maxTokens, contextSize / 4);
        GlimpRouter router = GlimpRouter.builder(model).oneShotReserve(maxSessions > 1 && reserveTokens > 0 ? 1 : 0, maxSessions > 1 ? reserveTokens : 0).threshold(threshold).entropyMode(m).delimiter(TrajectoryRun.unescape(delimiter))
                .maxSessions(maxSessions).contextSize(contextSize).maxWait(Duration.ofNanos(maxWaitMicros * 1000)).threads(threads)
                .modelOptions(io.panscore.kernel.ModelOptions.defaults().withGpuLayers(gpuLayers)).listener(metrics)
                .template(io.panscore.api.trajectory.PromptTemplate.parse(template)).build();
        try {
            Templates.checked(template, router.model()); // before serving: not a failure per request
        } catch (RuntimeException e) {
            router.close();
            throw e;
        }
        RouterServer server;
        try {
            server = RouterServer.start(router, new ServerOptions(host, port, maxBody, maxTokens, 10_000, apiKey == null || apiKey.isBlank() ? null : apiKey,
                    sessionTtlSeconds * 1000, maxSessionsPerClient, idleTimeoutSeconds * 1000, readTimeoutSeconds * 1000), metrics);
        } catch (Exception e) {
            router.close();
            throw new java.io.IOException("could not serve on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        Thread hook = new Thread(() -> {
            try {
                server.close();
            } catch (Exception e) {
                System.err.println("panscore: error while stopping: " + e);
            }
            router.close();
        }, "panscore-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.printf(Locale.ROOT, "panscore serving %s on http://%s:%d (tau %.3f, %s entropy, %d sessions)%n", model, host, server.port(), threshold,
                m.label(), maxSessions);
        out.flush();
        server.join();
        return 0;
    }
}
