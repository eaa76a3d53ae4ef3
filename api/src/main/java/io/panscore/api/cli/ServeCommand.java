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
        description = {"Serve GlimpRouter over HTTP: sessions, glimpses, /health and Prometheus /metrics; with --large or --large-url also "
                + "POST /v1/route (the whole routing loop on one problem, as `panscore route` runs it).",
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

    @Option(names = "--openai", arity = "1", paramLabel = "true|false", description = "also serve the OpenAI-compatible API (/v1/completions, /v1/chat/completions, /v1/models, "
            + "/tokenize, /detokenize, /tokenizer_info) on the same port. Default: ${DEFAULT-VALUE}")
    boolean openai = true;

    @Option(names = "--served-model-name", description = "the model's id in the OpenAI API (default: the file name without .gguf)")
    String servedModelName;

    @Option(names = "--openai-ctx", description = "tokens of the OpenAI API's scoring context and of its generation KV cache (each). Default: ${DEFAULT-VALUE}")
    int openaiContext = 4096;

    @Option(names = "--max-generations", description = "OpenAI API generations decoded together. Default: ${DEFAULT-VALUE}")
    int maxGenerations = 4;

    @Option(names = "--max-top-logprobs", description = "largest logprobs / top_logprobs / prompt_logprobs accepted. Default: ${DEFAULT-VALUE}")
    int maxTopLogprobs = 20;

    @Option(names = "--chat-template-file", description = "a Jinja chat template for the OpenAI API's messages (default: the model's own)")
    Path chatTemplateFile;

    @Option(names = "--add-bos", arity = "1", paramLabel = "true|false", description = "OpenAI API: text prompts get BOS (where the model adds one) unless a request says "
            + "\"add_special_tokens\": false; --add-bos false for clients that count tokens without it (lm-eval's remote tokenizer with text requests). Default: ${DEFAULT-VALUE}")
    boolean addBos = true;

    @Option(names = "--large", description = "POST /v1/route: the large model as a second local GGUF")
    Path large;

    @Option(names = "--large-url", description = "POST /v1/route: the large model behind an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1")
    String largeUrl;

    @Option(names = "--large-model", description = "the \"model\" field sent to --large-url. Default: ${DEFAULT-VALUE}")
    String largeModel = "default";

    @Option(names = "--large-api-key-env", description = "an environment variable holding --large-url's bearer token. Default: ${DEFAULT-VALUE}")
    String largeApiKeyEnv = "OPENAI_API_KEY";

    @Option(names = "--large-template", description = "the local large model's prompt template (same forms as --template). Default: ${DEFAULT-VALUE}")
    String largeTemplate = "model";

    @Option(names = "--large-timeout", description = "seconds per request to --large-url. Default: ${DEFAULT-VALUE}")
    int largeTimeoutSeconds = 600;

    @Option(names = "--route-parallel", description = "POST /v1/route requests running at once (503 beyond). Default: ${DEFAULT-VALUE}")
    int routeParallel = 4;

    @Option(names = "--route-max-tokens", description = "the most max_total_tokens + max_step_tokens + max_answer_tokens one /v1/route request may ask "
            + "(413 beyond). Default: ${DEFAULT-VALUE}")
    int routeMaxTokens = 8192 + 512 + 2048;

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
        if (large != null && largeUrl != null) {
            router.close();
            throw new IllegalArgumentException("give --large or --large-url, not both");
        }
        java.util.List<io.panscore.api.server.Protocol> protocols = new java.util.ArrayList<>();
        io.panscore.api.router.StepWriter writer = null;
        io.panscore.api.server.RouteEndpoint routes = null;
        RouterServer server;
        try {
            if (large != null) {
                writer = io.panscore.api.router.LocalStepWriter.load(large, io.panscore.kernel.ModelOptions.defaults().withGpuLayers(gpuLayers),
                        io.panscore.api.trajectory.PromptTemplate.parse(largeTemplate), routeParallel, contextSize);
            } else if (largeUrl != null) {
                writer = new io.panscore.api.router.OpenAiStepWriter(largeUrl, largeModel, System.getenv(largeApiKeyEnv), Duration.ofSeconds(largeTimeoutSeconds));
            }
            if (writer != null) {
                routes = new io.panscore.api.server.RouteEndpoint(router, writer, io.panscore.api.router.RouteOptions.defaults(), routeParallel, routeMaxTokens);
            }
            if (openai) {
                String name = servedModelName != null ? servedModelName : model.getFileName().toString().replaceFirst("(?i)\\.gguf$", "");
                String template = chatTemplateFile == null ? null : java.nio.file.Files.readString(chatTemplateFile);
                protocols.add(new io.panscore.api.server.openai.OpenAiProtocol(router.model(), new io.panscore.api.server.openai.OpenAiOptions(name,
                        openaiContext, openaiContext, maxGenerations, threads, maxTopLogprobs, template, addBos)));
            }
            server = RouterServer.start(router, new ServerOptions(host, port, maxBody, maxTokens, 10_000, apiKey == null || apiKey.isBlank() ? null : apiKey,
                    sessionTtlSeconds * 1000, maxSessionsPerClient, idleTimeoutSeconds * 1000, readTimeoutSeconds * 1000), metrics, protocols, routes);
        } catch (Exception e) {
            protocols.forEach(io.panscore.api.server.Protocol::close);
            if (routes != null) {
                routes.close();
            }
            if (writer != null) {
                writer.close();
            }
            router.close();
            throw new java.io.IOException("could not serve on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        io.panscore.api.router.StepWriter largeWriter = writer;
        Thread hook = new Thread(() -> {
            try {
                server.close();
            } catch (Exception e) {
                System.err.println("panscore: error while stopping: " + e);
            }
            if (largeWriter != null) {
                largeWriter.close();
            }
            router.close();
        }, "panscore-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.printf(Locale.ROOT, "panscore serving %s on http://%s:%d (tau %.3f, %s entropy, %d sessions%s)%n", model, host, server.port(), threshold,
                m.label(), maxSessions, writer == null ? "" : "; POST /v1/route with the large model " + writer.name());
        out.flush();
        server.join();
        return 0;
    }
}
