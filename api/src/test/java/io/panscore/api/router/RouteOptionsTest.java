package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.panscore.kernel.SamplingOptions;
import org.junit.jupiter.api.Test;

/** RouteOptions at the edges of its limits, each with-method, and the per-step sampling seeds (seed + step). */
class RouteOptionsTest {

    @Test
    void defaultsLimitsAndWithMethods() {
        RouteOptions d = RouteOptions.defaults();
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.6, 0.95, 512, "\n\n", "</think>", 8192, 2048), d);
        assertEquals(RoutePolicy.LARGE, d.withPolicy(RoutePolicy.LARGE).policy());
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.25, 0, 0.6, 0.95, 512, "\n\n", "</think>", 8192, 2048), d.withLargeFraction(0.25));
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.5, 7, 0.6, 0.95, 512, "\n\n", "</think>", 8192, 2048), d.withSeed(7));
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.3, 0.5, 512, "\n\n", "</think>", 8192, 2048), d.withSampling(0.3, 0.5));
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.6, 0.95, 5, "\n\n", "</think>", 8192, 2048), d.withMaxStepTokens(5));
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.6, 0.95, 512, "\n\n", "<end>", 8192, 2048), d.withEndOfThinking("<end>"));
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.6, 0.95, 512, "\n\n", "</think>", 5, 2048), d.withMaxTotalTokens(5));
        assertEquals(new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.6, 0.95, 512, "\n\n", "</think>", 8192, 0), d.withMaxAnswerTokens(0));
        long maxSeed = SamplingOptions.MAX_SEED - 100_000;
        assertDoesNotThrow(() -> d.withLargeFraction(0).withLargeFraction(1).withSeed(maxSeed).withMaxStepTokens(1).withMaxTotalTokens(1));
        for (Runnable bad : java.util.List.<Runnable>of(() -> d.withLargeFraction(-1e-9), () -> d.withLargeFraction(1 + 1e-9),
                () -> d.withLargeFraction(Double.NaN), () -> d.withSeed(-1), () -> d.withSeed(maxSeed + 1), () -> d.withMaxStepTokens(0),
                () -> d.withMaxTotalTokens(0), () -> d.withMaxAnswerTokens(-1),
                () -> new RouteOptions(RoutePolicy.GLIMP, 0.5, 0, 0.6, 0.95, 512, "", "</think>", 8192, 2048))) {
            assertThrows(IllegalArgumentException.class, bad::run);
        }
        assertThrows(RuntimeException.class, () -> d.withSampling(-1, 0.5), "temperature checked as SamplingOptions does");
        assertThrows(RuntimeException.class, () -> d.withSampling(0.5, 2), "top-p checked as SamplingOptions does");
        assertThrows(NullPointerException.class, () -> d.withPolicy(null));
        assertThrows(NullPointerException.class, () -> d.withEndOfThinking(null));
        // step k samples with seed + k, at the options' temperature and top-p, no top-k or min-p
        assertEquals(new SamplingOptions(0.6, 0.95, 0, 0, 12), d.withSeed(9).stepSampling(3));
        assertEquals(new SamplingOptions(0.6, 0.95, 0, 0, 0), d.stepSampling(0));
    }
}
