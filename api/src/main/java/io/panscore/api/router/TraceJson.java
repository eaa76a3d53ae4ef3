package io.panscore.api.router;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;

/**
 * A routed trace as JSON, the same shape for {@code panscore route}'s output lines and the HTTP
 * sidecar's {@code POST /v1/route}: {@code policy}, {@code threshold} (glimp only), {@code steps}
 * ({@code model}, {@code entropy} or null, {@code tokens}, {@code ms}, {@code text}),
 * {@code stop_reason}, {@code answer} and {@code answer_tokens} (when an answer was asked for),
 * {@code small_tokens}, {@code large_tokens}, {@code large_step_fraction},
 * {@code large_token_fraction}, {@code wall_ms}.
 */
public final class TraceJson {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TraceJson() {}

    /** The trace's fields after {@code into}'s own (e.g. an id). */
    public static ObjectNode write(ObjectNode into, RoutePolicy policy, double threshold, RoutedTrace t) {
        into.put("policy", policy.name().toLowerCase(Locale.ROOT));
        if (policy == RoutePolicy.GLIMP) {
            into.put("threshold", threshold);
        }
        ArrayNode steps = into.putArray("steps");
        long small = 0;
        long big = 0;
        for (RoutedTrace.Step s : t.steps()) {
            ObjectNode j = steps.addObject();
            j.put("model", s.model());
            if (Double.isNaN(s.entropy())) {
                j.putNull("entropy");
            } else {
                j.put("entropy", s.entropy());
            }
            j.put("tokens", s.tokens());
            j.put("ms", Math.round(s.nanos() / 1e4) / 100.0);
            j.put("text", s.text());
            if (s.model().equals("large")) {
                big += Math.max(0, s.tokens());
            } else {
                small += s.tokens();
            }
        }
        into.put("stop_reason", t.stopReason());
        if (t.answer() != null) {
            into.put("answer", t.answer());
            into.put("answer_tokens", t.answerTokens());
        }
        into.put("small_tokens", small);
        into.put("large_tokens", big);
        into.put("large_step_fraction", t.largeStepFraction());
        into.put("large_token_fraction", t.largeTokenFraction());
        into.put("wall_ms", Math.round(t.wallNanos() / 1e4) / 100.0);
        return into;
    }

    /** The trace alone. */
    public static ObjectNode of(RoutePolicy policy, double threshold, RoutedTrace t) {
        return write(JSON.createObjectNode(), policy, threshold, t);
    }
}
