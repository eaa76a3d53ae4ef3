package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.bindings.ps_sampling_params;
import io.panscore.bindings.ps_score_params;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The option records' limits at their edges (the last value accepted and the first refused, from
 * their documentation), each {@code with} method changing its own field only, and the values the
 * native parameter structs receive, read back field by field. Pure Java: no model is loaded.
 */
class OptionsTest {

    @Test
    void engineOptionsLimits() {
        assertEquals(new EngineOptions(0, 0, 0, 0, 0, EngineOptions.LogitsCopy.AUTO, EngineOptions.FlashAttention.OFF), EngineOptions.defaults());
        EngineOptions d = EngineOptions.defaults();
        assertEquals(new EngineOptions(7, 0, 0, 0, 0, EngineOptions.LogitsCopy.AUTO, EngineOptions.FlashAttention.OFF), d.withContextSize(7));
        assertEquals(new EngineOptions(0, 7, 0, 0, 0, EngineOptions.LogitsCopy.AUTO, EngineOptions.FlashAttention.OFF), d.withBatchSize(7));
        assertEquals(new EngineOptions(0, 0, 7, 0, 0, EngineOptions.LogitsCopy.AUTO, EngineOptions.FlashAttention.OFF), d.withMicroBatchSize(7));
        assertEquals(new EngineOptions(0, 0, 0, 7, 0, EngineOptions.LogitsCopy.AUTO, EngineOptions.FlashAttention.OFF), d.withMaxSequences(7));
        assertEquals(new EngineOptions(0, 0, 0, 0, 7, EngineOptions.LogitsCopy.AUTO, EngineOptions.FlashAttention.OFF), d.withThreads(7));
        assertEquals(EngineOptions.LogitsCopy.KEEP, d.withLogitsCopy(EngineOptions.LogitsCopy.KEEP).logitsCopy());
        assertEquals(EngineOptions.LogitsCopy.SKIP, d.withSkipLogitsCopy(true).logitsCopy());
        assertEquals(EngineOptions.LogitsCopy.KEEP, d.withSkipLogitsCopy(false).logitsCopy());
        assertEquals(EngineOptions.FlashAttention.ON, d.withFlashAttention(EngineOptions.FlashAttention.ON).flashAttention());
        // every count: 0 (the default) accepted, -1 refused with its name
        String[] names = {"contextSize", "batchSize", "microBatchSize", "maxSequences", "threads"};
        for (int i = 0; i < names.length; i++) {
            int[] v = new int[5];
            v[i] = -1;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new EngineOptions(v[0], v[1], v[2], v[3], v[4], EngineOptions.LogitsCopy.AUTO, EngineOptions.FlashAttention.OFF));
            assertTrue(e.getMessage().startsWith(names[i] + " must be >= 0"), e.getMessage());
        }
        // the micro-batch may equal the batch, not exceed it; with the batch at its default (0) anything goes
        assertDoesNotThrow(() -> d.withBatchSize(64).withMicroBatchSize(64));
        assertThrows(IllegalArgumentException.class, () -> d.withBatchSize(64).withMicroBatchSize(65));
        assertDoesNotThrow(() -> d.withMicroBatchSize(4096));
        assertThrows(NullPointerException.class, () -> d.withFlashAttention(null));
        assertThrows(NullPointerException.class, () -> d.withLogitsCopy(null));
        // the native codes (panscore.h: -1 auto, 0 keep/off, 1 skip/on) and back
        assertEquals(-1, EngineOptions.LogitsCopy.AUTO.code);
        assertEquals(0, EngineOptions.LogitsCopy.KEEP.code);
        assertEquals(1, EngineOptions.LogitsCopy.SKIP.code);
        assertEquals(0, EngineOptions.FlashAttention.OFF.code);
        assertEquals(1, EngineOptions.FlashAttention.ON.code);
        assertEquals(-1, EngineOptions.FlashAttention.AUTO.code);
        for (EngineOptions.LogitsCopy c : EngineOptions.LogitsCopy.values()) {
            assertEquals(c, EngineOptions.LogitsCopy.of(c.code));
        }
        for (EngineOptions.FlashAttention f : EngineOptions.FlashAttention.values()) {
            assertEquals(f, EngineOptions.FlashAttention.of(f.code));
        }
    }

    @Test
    void samplingOptionsLimitsAndNativeValues() {
        SamplingOptions g = SamplingOptions.greedy();
        assertEquals(new SamplingOptions(0, 1, 0, 0, -1), g);
        assertTrue(g.isGreedy());
        assertEquals(new SamplingOptions(1, 1, 0, 0, 9), SamplingOptions.seeded(9));
        assertFalse(SamplingOptions.seeded(9).isGreedy());
        assertFalse(g.withTemperature(1e-6).isGreedy());
        assertEquals(new SamplingOptions(0.5, 1, 0, 0, -1), g.withTemperature(0.5));
        assertEquals(new SamplingOptions(0, 0.5, 0, 0, -1), g.withTopP(0.5));
        assertEquals(new SamplingOptions(0, 1, 5, 0, -1), g.withTopK(5));
        assertEquals(new SamplingOptions(0, 1, 0, 0.5, -1), g.withMinP(0.5));
        assertEquals(new SamplingOptions(0, 1, 0, 0, 5), g.withSeed(5));
        // edges: temperature [0, inf), topP [0, 1], topK >= 0, minP [0, 1), seed -1 or [0, 2^32 - 2]
        assertDoesNotThrow(() -> g.withTemperature(0).withTopP(0).withTopP(1).withTopK(0).withMinP(0).withSeed(-1).withSeed(0)
                .withSeed(SamplingOptions.MAX_SEED));
        assertEquals(4_294_967_294L, SamplingOptions.MAX_SEED);
        for (Runnable bad : List.<Runnable>of(() -> g.withTemperature(-1e-9), () -> g.withTemperature(Double.POSITIVE_INFINITY),
                () -> g.withTemperature(Double.NaN), () -> g.withTopP(-1e-9), () -> g.withTopP(1 + 1e-9), () -> g.withTopP(Double.NaN),
                () -> g.withTopK(-1), () -> g.withMinP(-1e-9), () -> g.withMinP(1), () -> g.withMinP(Double.NaN), () -> g.withSeed(-2),
                () -> g.withSeed(SamplingOptions.MAX_SEED + 1))) {
            assertThrows(InvalidInputException.class, bad::run);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = new SamplingOptions(0.75, 0.5, 7, 0.25, 123).toNative(arena);
            assertEquals(0.75f, ps_sampling_params.temperature(p));
            assertEquals(0.5f, ps_sampling_params.top_p(p));
            assertEquals(7, ps_sampling_params.top_k(p));
            assertEquals(0.25f, ps_sampling_params.min_p(p));
            assertEquals(123L, ps_sampling_params.seed(p));
        }
    }

    @Test
    void scoreGenerateAndModelOptionsLimits() {
        assertEquals(new ScoreOptions(1.0, 0), ScoreOptions.defaults());
        assertEquals(new ScoreOptions(1.0, 5), ScoreOptions.defaults().withTopK(5));
        assertEquals(new ScoreOptions(0.5, 0), ScoreOptions.defaults().withTemperature(0.5));
        assertDoesNotThrow(() -> new ScoreOptions(Double.MIN_VALUE, 0));
        for (double t : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThrows(IllegalArgumentException.class, () -> new ScoreOptions(t, 0), "temperature " + t);
        }
        assertThrows(IllegalArgumentException.class, () -> new ScoreOptions(1, -1));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = new ScoreOptions(0.5, 9).toNative(arena);
            assertEquals(0.5f, ps_score_params.temperature(p));
            assertEquals(9, ps_score_params.top_k(p));
        }

        GenerateOptions g = GenerateOptions.greedy(3);
        assertEquals(new GenerateOptions(3, SamplingOptions.greedy(), List.of(), 0, true), g);
        assertEquals(new GenerateOptions(1, SamplingOptions.greedy(), List.of(), 0, true), g.withMaxTokens(1));
        assertEquals(new GenerateOptions(3, SamplingOptions.seeded(1), List.of(), 0, true), g.withSampling(SamplingOptions.seeded(1)));
        assertEquals(new GenerateOptions(3, SamplingOptions.greedy(), List.of("x"), 0, true), g.withStop(List.of("x")));
        assertEquals(new GenerateOptions(3, SamplingOptions.greedy(), List.of(), 4, true), g.withTopK(4));
        assertEquals(new GenerateOptions(3, SamplingOptions.greedy(), List.of(), 0, false), g.withStopAtEndOfGeneration(false));
        assertThrows(InvalidInputException.class, () -> g.withMaxTokens(0));
        assertThrows(InvalidInputException.class, () -> g.withSampling(null));
        assertThrows(InvalidInputException.class, () -> g.withStop(null));
        assertThrows(InvalidInputException.class, () -> g.withStop(List.of("")));
        assertThrows(InvalidInputException.class, () -> g.withStop(java.util.Arrays.asList("a", null)));
        assertThrows(InvalidInputException.class, () -> g.withTopK(-1));
        assertDoesNotThrow(() -> g.withTopK(0).withMaxTokens(1));

        assertEquals(new ModelOptions(0, 0, true, false), ModelOptions.defaults());
        assertEquals(new ModelOptions(-1, 0, true, false), ModelOptions.defaults().withGpuLayers(-1));
        assertThrows(IllegalArgumentException.class, () -> ModelOptions.defaults().withGpuLayers(-2));
        assertThrows(IllegalArgumentException.class, () -> new ModelOptions(0, -1, true, false));
        assertDoesNotThrow(() -> new ModelOptions(99, 0, false, true));
    }
}
