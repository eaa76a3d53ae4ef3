package io.panscore.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_append;
import io.panscore.bindings.ps_token_stats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A session decode (ps_session_decode) that fails part-way — the KV cache fills after some batches
 * were decoded — is undone: every slot holds exactly what it held before, and the engine decodes
 * on as if the failed call had never happened. Called through the C ABI directly, because
 * SessionPool's own KV budget refuses such a call before it reaches the native code.
 */
class SessionUndoTest {

    private static final int SLOTS = 16;

    /** One ps_session_decode call: appends[i] goes to slot i at position pos[i]. Returns the status and fills stats. */
    private static int decode(Engine e, int[][] tokens, int[] pos, MemorySegment stats, Arena arena) {
        MemorySegment appends = ps_append.allocateArray(tokens.length, arena);
        for (int i = 0; i < tokens.length; i++) {
            MemorySegment a = ps_append.asSlice(appends, i);
            ps_append.seq_id(a, i);
            ps_append.pos(a, pos[i]);
            ps_append.tokens(a, arena.allocateFrom(ValueLayout.JAVA_INT, tokens[i]));
            ps_append.n_tokens(a, tokens[i].length);
        }
        try (var use = e.lifecycle().use()) {
            return panscore_h.ps_session_decode(use.handle(), appends, tokens.length, ScoreOptions.defaults().toNative(arena), stats,
                    MemorySegment.NULL, MemorySegment.NULL);
        }
    }

    private static int length(Engine e, int slot, Arena arena) {
        MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
        try (var use = e.lifecycle().use()) {
            assertEquals(panscore_h.PS_OK(), panscore_h.ps_session_length(use.handle(), slot, n));
        }
        return n.get(ValueLayout.JAVA_INT, 0);
    }

    @Test
    void aDecodeThatFailsAfterSomeBatchesLeavesNoTokensBehind() {
        Model model = TestModels.tiny();
        int[] ctx = model.tokenize("Some context.", true, false);
        int word = model.tokenize(" word", false, false)[0];
        EngineOptions small = EngineOptions.defaults().withContextSize(64).withBatchSize(8).withMicroBatchSize(8).withMaxSequences(SLOTS);
        try (Engine e = model.newEngine(small); Arena arena = Arena.ofConfined()) {
            MemorySegment stats = ps_token_stats.allocateArray(SLOTS, arena);
            // slot 0 holds the context
            assertEquals(panscore_h.PS_OK(), decode(e, new int[][] {ctx}, new int[] {0}, stats, arena));
            // 16 slots x 60 tokens in batches of 8: the first batches fit, a later one finds the KV cache full
            int[][] lots = new int[SLOTS][];
            int[] pos = new int[SLOTS];
            for (int s = 0; s < SLOTS; s++) {
                lots[s] = new int[60 - (s == 0 ? ctx.length : 0)];
                Arrays.fill(lots[s], word);
                pos[s] = s == 0 ? ctx.length : 0;
            }
            int status = decode(e, lots, pos, stats, arena);
            assertEquals(panscore_h.PS_ERR_CAPACITY(), status, "the KV cache must overflow part-way for this test to mean anything");
            assertEquals(ctx.length, length(e, 0, arena), "slot 0 holds its context again");
            for (int s = 1; s < SLOTS; s++) {
                assertEquals(0, length(e, s, arena), "slot " + s + " is empty again");
            }
            // and decoding goes on from there: a glimpse after ctx + 5 words equals the reference
            int[] five = new int[5];
            Arrays.fill(five, word);
            assertEquals(panscore_h.PS_OK(), decode(e, new int[][] {five}, new int[] {ctx.length}, stats, arena));
            int[] whole = Arrays.copyOf(ctx, ctx.length + 5);
            System.arraycopy(five, 0, whole, ctx.length, 5);
            try (Engine scratch = model.newEngine(EngineOptions.defaults().withContextSize(64))) {
                int vocab = model.info().vocabSize();
                int[] withNext = Arrays.copyOf(whole, whole.length + 1);
                float[] logits = scratch.logits(List.of(new Sequence(withNext, whole.length, whole.length + 1)));
                ReferenceKernel.Stats ref = ReferenceKernel.stats(logits, 0, vocab, 0, 1.0, 0);
                MemorySegment st = ps_token_stats.asSlice(stats, 0);
                assertEquals(ref.entropy(), ps_token_stats.entropy(st), 1e-4);
                assertEquals(ref.argmax(), ps_token_stats.argmax_id(st));
            }
            assertTrue(length(e, 0, arena) == whole.length);
        }
    }
}
