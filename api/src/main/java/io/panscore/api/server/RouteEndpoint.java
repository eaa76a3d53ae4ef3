package io.panscore.api.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.panscore.api.router.GlimpRouter;
import io.panscore.api.router.RouteOptions;
import io.panscore.api.router.RoutePolicy;
import io.panscore.api.router.RoutedTrace;
import io.panscore.api.router.RoutingLoop;
import io.panscore.api.router.StepWriter;
import io.panscore.api.router.TraceJson;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.PanscoreException;
import io.panscore.kernel.SamplingOptions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Semaphore;

/**
 * {@code POST /v1/route}: the routing loop ({@link RoutingLoop}) over HTTP, for routers that are not
 * on the JVM. One problem in, its routed trace out:
 * <pre>
 * {"prompt": s} | {"messages": [{"role", "content"}, ...]},
 *   optional: "policy" (glimp|small|large|random), "threshold" (τ, glimp), "large_fraction" (random),
 *   "seed", "temperature", "top_p", "max_step_tokens", "max_total_tokens", "max_answer_tokens",
 *   "end_of_thinking"
 * -> 200 {"policy", "threshold", "steps": [{"model", "entropy", "tokens", "ms", "text"}], "stop_reason",
 *         "answer", "answer_tokens", "small_tokens", "large_tokens", "large_step_fraction",
 *         "large_token_fraction", "wall_ms"}   (the lines {@code panscore route} writes, without "id")
 * </pre>
 * Defaults are the endpoint's {@link RouteOptions} (the released code's: temperature 0.6, top-p
 * 0.95, 512 tokens a step, 8192 step tokens, 2048 answer tokens) and the router's τ. Errors: 400
 * (a field of the wrong type or out of range, an unknown field), 413 (the prompt over the server's
 * token limit, or {@code max_total_tokens + max_step_tokens + max_answer_tokens} over the
 * endpoint's limit), 429 (the client's quota: a running route holds one of its sessions), 502 (the
 * large model's endpoint failed: {@code "type": "upstream"}), 503 + Retry-After (all of the
 * endpoint's concurrent routes, or the router's sessions, are taken).
 *
 * <p>The endpoint owns its loop (closed with it); the router and the large model's writer are the
 * caller's. Thread-safe.
 */
public final class RouteEndpoint implements AutoCloseable {

    private static final Set<String> FIELDS = Set.of("prompt", "messages", "policy", "threshold", "large_fraction", "seed", "temperature", "top_p",
            "max_step_tokens", "max_total_tokens", "max_answer_tokens", "end_of_thinking");

    private final GlimpRouter router;
    private final RoutingLoop loop;
    private final RouteOptions defaults;
    private final int maxGeneratedTokens;
    private final int maxConcurrent;
    private final Semaphore running;

    /**
     * @param router             the small model (its sessions, glimpses and steps)
     * @param large              writes the large model's steps and the answers
     * @param defaults           the settings a request does not give
     * @param maxConcurrent      routes running at once (each holds a router session and a request thread); 503 beyond
     * @param maxGeneratedTokens the most {@code max_total_tokens + max_step_tokens + max_answer_tokens} a request may ask (413 beyond)
     */
    public RouteEndpoint(GlimpRouter router, StepWriter large, RouteOptions defaults, int maxConcurrent, int maxGeneratedTokens) {
        this.router = Objects.requireNonNull(router, "router");
        this.defaults = Objects.requireNonNull(defaults, "defaults");
        if (maxConcurrent < 1 || maxGeneratedTokens < 1) {
            throw new IllegalArgumentException("maxConcurrent and maxGeneratedTokens must be >= 1, got " + maxConcurrent + ", " + maxGeneratedTokens);
        }
        this.maxConcurrent = maxConcurrent;
        this.maxGeneratedTokens = maxGeneratedTokens;
        this.running = new Semaphore(maxConcurrent);
        this.loop = new RoutingLoop(router, new Upstream(Objects.requireNonNull(large, "large")), defaults);
    }

    public RouteOptions defaults() {
        return defaults;
    }

    /** A parsed request: the problem, its settings and τ (NaN: the router's). */
    record Problem(List<ChatMessage> messages, RouteOptions options, double threshold) {}

    /** Parses and checks a request body; {@code maxPromptTokens} is the server's per-request token limit. */
    Problem parse(JsonNode b, int maxPromptTokens) {
        for (Iterator<String> names = b.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new HttpException(400, "unknown field \"" + clip(name) + "\"; /v1/route takes " + new java.util.TreeSet<>(FIELDS));
            }
        }
        List<ChatMessage> messages = new ArrayList<>();
        if (b.has("messages")) {
            JsonNode ms = b.get("messages");
            if (b.has("prompt")) {
                throw new HttpException(400, "give \"prompt\" or \"messages\", not both");
            }
            if (!ms.isArray() || ms.isEmpty()) {
                throw new HttpException(400, "\"messages\" must be a non-empty array of {\"role\", \"content\"} objects");
            }
            for (int i = 0; i < ms.size(); i++) {
                JsonNode m = ms.get(i);
                if (!m.isObject() || !m.path("role").isTextual() || !m.path("content").isTextual()) {
                    throw new HttpException(400, "messages[" + i + "] must be an object with string \"role\" and \"content\"");
                }
                messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
            }
        } else if (b.has("prompt")) {
            if (!b.get("prompt").isTextual() || b.get("prompt").asText().isBlank()) {
                throw new HttpException(400, "\"prompt\" must be a non-empty string");
            }
            messages.add(new ChatMessage("user", b.get("prompt").asText()));
        } else {
            throw new HttpException(400, "give the problem as \"prompt\" (a string) or \"messages\" (chat)");
        }

        RoutePolicy policy = defaults.policy();
        if (b.has("policy")) {
            try {
                policy = RoutePolicy.valueOf(text(b, "policy").toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new HttpException(400, "\"policy\" must be glimp, small, large or random, got \"" + clip(b.get("policy").asText()) + "\"");
            }
        }
        double threshold = Double.NaN;
        if (b.has("threshold")) {
            threshold = number(b, "threshold", -1e9, 1e9);
        }
        double largeFraction = b.has("large_fraction") ? number(b, "large_fraction", 0, 1) : defaults.largeFraction();
        long seed = b.has("seed") ? integer(b, "seed", 0, SamplingOptions.MAX_SEED - 100_000) : defaults.seed();
        double temperature = b.has("temperature") ? number(b, "temperature", 0, 100) : defaults.temperature();
        double topP = defaults.topP();
        if (b.has("top_p")) {
            topP = number(b, "top_p", 0, 1);
            if (topP == 0) {
                throw new HttpException(400, "\"top_p\" must be in (0, 1], got 0");
            }
        }
        int maxStep = b.has("max_step_tokens") ? (int) integer(b, "max_step_tokens", 1, Integer.MAX_VALUE) : defaults.maxStepTokens();
        int maxTotal = b.has("max_total_tokens") ? (int) integer(b, "max_total_tokens", 1, Integer.MAX_VALUE) : defaults.maxTotalTokens();
        int maxAnswer = b.has("max_answer_tokens") ? (int) integer(b, "max_answer_tokens", 0, Integer.MAX_VALUE) : defaults.maxAnswerTokens();
        String endOfThinking = defaults.endOfThinking();
        if (b.has("end_of_thinking")) {
            endOfThinking = text(b, "end_of_thinking");
            if (endOfThinking.isEmpty()) {
                throw new HttpException(400, "\"end_of_thinking\" must not be empty");
            }
        }
        long asked = (long) maxTotal + maxStep + maxAnswer;
        if (asked > maxGeneratedTokens) {
            throw new HttpException(413, "max_total_tokens + max_step_tokens + max_answer_tokens = " + asked + " tokens, more than this server's limit of "
                    + maxGeneratedTokens + " (serve with a larger --route-max-tokens)");
        }
        int prompt = router.model().tokenize(router.renderChat(messages), true, true).length;
        if (prompt > maxPromptTokens) {
            throw new HttpException(413, "the problem has " + prompt + " tokens, more than the limit of " + maxPromptTokens);
        }
        RouteOptions options;
        try {
            options = new RouteOptions(policy, largeFraction, seed, temperature, topP, maxStep, defaults.delimiter(), endOfThinking, maxTotal, maxAnswer);
        } catch (IllegalArgumentException e) {
            throw new HttpException(400, e.getMessage());
        }
        return new Problem(messages, options, threshold);
    }

    /** Routes a parsed problem: the trace as JSON. 503 when all concurrent routes are taken. */
    Object route(Problem p) {
        if (!running.tryAcquire()) {
            throw new HttpException(503, "all " + maxConcurrent + " concurrent routes are running; retry later (serve with a larger --route-parallel)");
        }
        try {
            RoutedTrace t = loop.route(p.messages(), p.options(), p.threshold());
            return TraceJson.of(p.options().policy(), Double.isNaN(p.threshold()) ? router.threshold() : p.threshold(), t);
        } finally {
            running.release();
        }
    }

    /** Stops the loop's generator (the router and the writer stay open). */
    @Override
    public void close() {
        loop.close();
    }

    private static String text(JsonNode b, String name) {
        JsonNode v = b.get(name);
        if (!v.isTextual()) {
            throw new HttpException(400, "\"" + name + "\" must be a string");
        }
        return v.asText();
    }

    private static double number(JsonNode b, String name, double min, double max) {
        JsonNode v = b.get(name);
        if (!v.isNumber() || !Double.isFinite(v.asDouble()) || v.asDouble() < min || v.asDouble() > max) {
            throw new HttpException(400, "\"" + name + "\" must be a number in [" + fmt(min) + ", " + fmt(max) + "], got " + clip(v.toString()));
        }
        return v.asDouble();
    }

    private static long integer(JsonNode b, String name, long min, long max) {
        JsonNode v = b.get(name);
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
            throw new HttpException(400, "\"" + name + "\" must be an integer in [" + min + ", " + max + "], got " + clip(v.toString()));
        }
        return v.asLong();
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }

    private static String clip(String s) {
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }

    /** The large model's writer, its failures (other than panscore's own) turned into 502. */
    private static final class Upstream implements StepWriter {
        private final StepWriter large;

        Upstream(StepWriter large) {
            this.large = large;
        }

        @Override
        public Conversation open(List<ChatMessage> messages) {
            Conversation c = upstream(() -> large.open(messages));
            return new Conversation() {
                @Override
                public Written write(List<String> steps, Request request) {
                    return upstream(() -> c.write(steps, request));
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        }

        private static <T> T upstream(java.util.function.Supplier<T> call) {
            try {
                return call.get();
            } catch (PanscoreException | HttpException e) {
                throw e;
            } catch (RuntimeException e) {
                throw new HttpException(502, "the large model failed: " + e.getMessage());
            }
        }

        @Override
        public String name() {
            return large.name();
        }

        @Override
        public void close() {} // the caller's
    }
}
