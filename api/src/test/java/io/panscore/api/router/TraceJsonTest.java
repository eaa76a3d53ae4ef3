package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A routed trace's JSON (the route command's lines and POST /v1/route's body), field by field,
 * written out by hand: times in ms rounded to 0.01, an entropy of NaN as null, a large step
 * without usage (-1 tokens) counted as 0 large tokens, the threshold only for the glimp policy,
 * the answer only when there is one. The fractions are 2/3 and 29/39 (computed with Python).
 */
class TraceJsonTest {

    static final RoutedTrace TRACE = new RoutedTrace(List.of(new RoutedTrace.Step("small", 0.5, "a", 10, 1_234_567),
            new RoutedTrace.Step("large", Double.NaN, "b", -1, 2_000_000), new RoutedTrace.Step("large", 2.5, "c \"q\"", 30, 5)), "ans", 7,
            "end_of_thinking", 123_456_789);

    @Test
    void aGlimpTraceWithItsAnswer() {
        ObjectNode into = new ObjectMapper().createObjectNode().put("id", "x");
        ObjectNode out = TraceJson.write(into, RoutePolicy.GLIMP, 1.5, TRACE);
        assertEquals("{\"id\":\"x\",\"policy\":\"glimp\",\"threshold\":1.5,\"steps\":["
                + "{\"model\":\"small\",\"entropy\":0.5,\"tokens\":10,\"ms\":1.23,\"text\":\"a\"},"
                + "{\"model\":\"large\",\"entropy\":null,\"tokens\":-1,\"ms\":2.0,\"text\":\"b\"},"
                + "{\"model\":\"large\",\"entropy\":2.5,\"tokens\":30,\"ms\":0.0,\"text\":\"c \\\"q\\\"\"}],"
                + "\"stop_reason\":\"end_of_thinking\",\"answer\":\"ans\",\"answer_tokens\":7,\"small_tokens\":10,\"large_tokens\":30,"
                + "\"large_step_fraction\":0.6666666666666666,\"large_token_fraction\":0.7435897435897436,\"wall_ms\":123.46}", out.toString());
    }

    @Test
    void otherPoliciesHaveNoThresholdAndNoAnswerWhenNoneWasAsked() {
        RoutedTrace t = new RoutedTrace(List.of(new RoutedTrace.Step("small", Double.NaN, "s", 4, 10_000),
                new RoutedTrace.Step("small", Double.NaN, "t", 6, 26_000)), null, 0, "max_total_tokens", 999_999);
        assertEquals("{\"policy\":\"random\",\"steps\":["
                + "{\"model\":\"small\",\"entropy\":null,\"tokens\":4,\"ms\":0.01,\"text\":\"s\"},"
                + "{\"model\":\"small\",\"entropy\":null,\"tokens\":6,\"ms\":0.03,\"text\":\"t\"}],"
                + "\"stop_reason\":\"max_total_tokens\",\"small_tokens\":10,\"large_tokens\":0,"
                + "\"large_step_fraction\":0.0,\"large_token_fraction\":0.0,\"wall_ms\":1.0}", TraceJson.of(RoutePolicy.RANDOM, 9.0, t).toString());
        assertEquals("{\"policy\":\"large\",\"steps\":[],\"stop_reason\":\"repeated_step\",\"answer\":\"\",\"answer_tokens\":0,\"small_tokens\":0,"
                + "\"large_tokens\":0,\"large_step_fraction\":0.0,\"large_token_fraction\":0.0,\"wall_ms\":0.0}",
                TraceJson.of(RoutePolicy.LARGE, 1.0, new RoutedTrace(List.of(), "", 0, "repeated_step", 0)).toString());
    }
}
