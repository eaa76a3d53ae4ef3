package io.panscore.kernel;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_token_stats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The native fused reduction applied to logits the caller already has (ps_stats_compute): the same
 * kernel {@link Engine#score} runs on llama.cpp's rows. For tests on crafted rows and for pipelines
 * that produce logits elsewhere. Thread-safe.
 */
public final class FusedKernel {

    private FusedKernel() {}

    /**
     * Reduces {@code targets.length} rows of {@code vocab} logits.
     *
     * @param threads 0 = all cores
     * @return one {@link TokenScores} holding all rows (scoreBegin 0)
     */
    public static TokenScores compute(float[] logits, int vocab, int[] targets, ScoreOptions options, int threads) {
        NativeCalls.ensureLoaded();
        int rows = targets.length;
        if (rows == 0 || vocab <= 0) {
            throw new InvalidInputException(panscore_h.PS_ERR_EMPTY_INPUT(), "no rows to reduce");
        }
        if ((long) rows * vocab != logits.length) {
            throw new InvalidInputException(panscore_h.PS_ERR_INVALID_ARGUMENT(),
                    "logits has " + logits.length + " floats, expected " + rows + " x " + vocab);
        }
        int k = options.topK();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_FLOAT, logits);
            MemorySegment tg = arena.allocateFrom(ValueLayout.JAVA_INT, targets);
            MemorySegment params = options.toNative(arena);
            MemorySegment stats = ps_token_stats.allocateArray(rows, arena);
            MemorySegment ids = k > 0 ? arena.allocate(ValueLayout.JAVA_INT, (long) rows * k) : MemorySegment.NULL;
            MemorySegment lps = k > 0 ? arena.allocate(ValueLayout.JAVA_FLOAT, (long) rows * k) : MemorySegment.NULL;
            NativeCalls.check(panscore_h.ps_stats_compute(in, rows, vocab, tg, params, threads, stats, ids, lps),
                    "reducing " + rows + " rows");
            return Engine.unpack(List.of(new Sequence(targets, 0, rows)), stats, k, ids, lps).getFirst();
        }
    }
}
