package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.Arrays;
import java.util.List;

/**
 * The float64 reference of a session's next-token distribution, for the SessionPool tests: the raw
 * logits of a context's last position, decoded from scratch, summarised by {@link ReferenceKernel}.
 */
final class NextTokenReference {

    private NextTokenReference() {}

    /** The reference summary (with the {@code k} best tokens) of the distribution after {@code context}, decoded on {@code engine}. */
    static ReferenceKernel.Stats of(Engine engine, int[] context, int k) {
        int[] withNext = Arrays.copyOf(context, context.length + 1); // any target: only the distribution matters
        float[] logits = engine.logits(List.of(new Sequence(withNext, context.length, context.length + 1)));
        return ReferenceKernel.stats(logits, 0, engine.model().info().vocabSize(), 0, 1.0, k);
    }

    /** The same on an engine of its own (at least 128 cells), closed afterwards. */
    static ReferenceKernel.Stats fromScratch(Model model, int[] context, int k) {
        try (Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(Math.max(128, context.length + 8)))) {
            return of(scratch, context, k);
        }
    }

    /** A glimpse against the reference: entropy, argmax and its log-prob within 1e-4, the best two ids equal. */
    static void assertMatches(ReferenceKernel.Stats ref, Glimpse g, String what) {
        assertNotNull(g, what);
        assertEquals(ref.entropy(), g.entropy(), 1e-4, what + ": entropy");
        assertEquals(ref.argmax(), g.token(), what + ": argmax");
        assertEquals(ref.argmaxLogprob(), g.logprob(), 1e-4, what + ": argmax log-prob");
        assertArrayEquals(Arrays.copyOf(ref.topIds(), 2), Arrays.copyOf(g.topIds(), 2), what + ": best two ids");
    }
}
