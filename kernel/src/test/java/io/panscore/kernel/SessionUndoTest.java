package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A session decode that fails part-way (the KV cache fills after some batches were decoded) is
 * undone: the slots hold exactly what they held before, so a later glimpse decodes the pending
 * tokens again and matches the float64 reference on the whole context.
 */
class SessionUndoTest {

    @Test
    void aDecodeThatFailsAfterSomeBatchesLeavesNoTokensBehind() {
        Model model = TestModels.tiny();
        int[] ctx = model.tokenize("Some context.", true, false);
        int[] step = new int[30];
        Arrays.fill(step, model.tokenize(" word", false, false)[0]);
        // batches of 8 tokens: the first decodes of the append succeed, a later one finds the KV cache full
        EngineOptions small = EngineOptions.defaults().withContextSize(64).withBatchSize(8).withMicroBatchSize(8).withMaxSequences(2);
        try (SessionPool pool = new SessionPool(model, small, 0)) {
            SessionPool.Session a = pool.open(ctx);
            SessionPool.Session b = pool.open(ctx);
            pool.glimpse(List.of(a, b));
            pool.append(a, step);
            pool.append(b, step);
            assertThrows(CapacityException.class, () -> pool.glimpse(List.of(a, b)));
            assertEquals(ctx.length + step.length, a.length());
            pool.close(b);
            Glimpse g = pool.glimpse(List.of(a)).getFirst(); // decodes a's 30 pending tokens again
            int[] whole = Arrays.copyOf(ctx, ctx.length + step.length);
            System.arraycopy(step, 0, whole, ctx.length, step.length);
            try (Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(64))) {
                int vocab = model.info().vocabSize();
                int[] withNext = Arrays.copyOf(whole, whole.length + 1);
                float[] logits = scratch.logits(List.of(new Sequence(withNext, whole.length, whole.length + 1)));
                ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, 0, vocab, 0, 1.0, 0);
                assertEquals(ref.entropy(), g.entropy(), 1e-4);
                assertEquals(ref.argmax(), g.token());
                assertEquals(ref.argmaxLogprob(), g.logprob(), 1e-4);
            }
            assertEquals(whole.length, a.length());
        }
    }
}
