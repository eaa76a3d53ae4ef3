package io.panscore.kernel;

/**
 * How an engine decodes. Zero means "the default" for every size.
 *
 * @param contextSize    KV cache size in tokens, shared by the sequences of one call; 0 = the
 *                       model's training context, at most 4096. A sequence must fit in it.
 * @param batchSize      most tokens per llama_decode (0 = 512). llama.cpp keeps an output buffer
 *                       of batchSize x vocabulary floats.
 * @param microBatchSize most tokens computed at once (0 = 512, at most batchSize)
 * @param maxSequences   most sequences packed into one decode (0 = 16)
 * @param threads        threads for the forward pass and the reduction (0 = all cores)
 * @param logitsCopy     whether llama.cpp still copies every logits row into its own output buffer
 *                       while scoring (the statistics are read where the rows are computed):
 *                       AUTO (default) skips the copy when the logits are on a GPU and keeps it on
 *                       the CPU, where skipping gains nothing measurable but costs memory
 * @param flashAttention llama.cpp's flash attention: OFF (default; on the CPU it accumulates in F16,
 *                       which makes results depend on how sequences are packed by ~1e-4), ON, AUTO
 * @param kvCache        UNIFIED (default): one KV cache shared by all sequences, every packed token
 *                       attends over every sequence's cells (masked); PER_SEQUENCE: one KV stream per
 *                       sequence slot, so packed sequences do not pay for each other's attention, and
 *                       each sequence (or session) holds at most {@link #sequenceContextSize()}
 *                       tokens, about contextSize / maxSequences (llama.cpp rounds it up to a
 *                       multiple of 256). The statistics are the same, bit for bit.
 */
public record EngineOptions(int contextSize, int batchSize, int microBatchSize, int maxSequences, int threads,
        LogitsCopy logitsCopy, FlashAttention flashAttention, KvCache kvCache) {

    /** How the KV cache is shared by the sequences of an engine. */
    public enum KvCache {
        UNIFIED(0), PER_SEQUENCE(1);

        final int code;

        KvCache(int code) {
            this.code = code;
        }

        static KvCache of(int code) {
            return code == 1 ? PER_SEQUENCE : UNIFIED;
        }
    }

    /** The options before {@link KvCache} existed: a unified KV cache. */
    public EngineOptions(int contextSize, int batchSize, int microBatchSize, int maxSequences, int threads, LogitsCopy logitsCopy,
            FlashAttention flashAttention) {
        this(contextSize, batchSize, microBatchSize, maxSequences, threads, logitsCopy, flashAttention, KvCache.UNIFIED);
    }

    /** Whether llama.cpp copies each logits row into its host output buffer while panscore scores. */
    public enum LogitsCopy {
        AUTO(-1), KEEP(0), SKIP(1);

        final int code;

        LogitsCopy(int code) {
            this.code = code;
        }

        static LogitsCopy of(int code) {
            return switch (code) {
                case 0 -> KEEP;
                case 1 -> SKIP;
                default -> AUTO;
            };
        }
    }

    /** Whether llama.cpp uses flash attention. */
    public enum FlashAttention {
        OFF(0), ON(1), AUTO(-1);

        final int code;

        FlashAttention(int code) {
            this.code = code;
        }

        static FlashAttention of(int code) {
            return switch (code) {
                case 0 -> OFF;
                case 1 -> ON;
                default -> AUTO;
            };
        }
    }

    public EngineOptions {
        java.util.Objects.requireNonNull(flashAttention, "flashAttention");
        java.util.Objects.requireNonNull(logitsCopy, "logitsCopy");
        java.util.Objects.requireNonNull(kvCache, "kvCache");
        if (kvCache == KvCache.PER_SEQUENCE && logitsCopy == LogitsCopy.SKIP) {
            throw new IllegalArgumentException("logitsCopy SKIP needs the UNIFIED KV cache: with PER_SEQUENCE the statistics are read "
                    + "from llama.cpp's copy of the logits");
        }
        requireNonNegative("contextSize", contextSize);
        requireNonNegative("batchSize", batchSize);
        requireNonNegative("microBatchSize", microBatchSize);
        requireNonNegative("maxSequences", maxSequences);
        requireNonNegative("threads", threads);
        if (batchSize > 0 && microBatchSize > batchSize) {
            throw new IllegalArgumentException("microBatchSize (" + microBatchSize + ") must not exceed batchSize (" + batchSize + ")");
        }
    }

    private static void requireNonNegative(String name, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " must be >= 0 (0 = default), got " + value);
        }
    }

    public static EngineOptions defaults() {
        return new EngineOptions(0, 0, 0, 0, 0, LogitsCopy.AUTO, FlashAttention.OFF, KvCache.UNIFIED);
    }

    public EngineOptions withContextSize(int v) {
        return new EngineOptions(v, batchSize, microBatchSize, maxSequences, threads, logitsCopy, flashAttention, kvCache);
    }

    public EngineOptions withBatchSize(int v) {
        return new EngineOptions(contextSize, v, microBatchSize, maxSequences, threads, logitsCopy, flashAttention, kvCache);
    }

    public EngineOptions withMicroBatchSize(int v) {
        return new EngineOptions(contextSize, batchSize, v, maxSequences, threads, logitsCopy, flashAttention, kvCache);
    }

    public EngineOptions withMaxSequences(int v) {
        return new EngineOptions(contextSize, batchSize, microBatchSize, v, threads, logitsCopy, flashAttention, kvCache);
    }

    public EngineOptions withThreads(int v) {
        return new EngineOptions(contextSize, batchSize, microBatchSize, maxSequences, v, logitsCopy, flashAttention, kvCache);
    }

    public EngineOptions withLogitsCopy(LogitsCopy v) {
        return new EngineOptions(contextSize, batchSize, microBatchSize, maxSequences, threads, v, flashAttention, kvCache);
    }

    /** SKIP (true) or KEEP (false) llama.cpp's copy of the logits. */
    public EngineOptions withSkipLogitsCopy(boolean skip) {
        return withLogitsCopy(skip ? LogitsCopy.SKIP : LogitsCopy.KEEP);
    }

    public EngineOptions withKvCache(KvCache v) {
        return new EngineOptions(contextSize, batchSize, microBatchSize, maxSequences, threads, logitsCopy, flashAttention, v);
    }

    /**
     * Tokens one sequence or session may hold: contextSize with a UNIFIED cache, contextSize /
     * maxSequences with PER_SEQUENCE streams. Exact on {@link Engine#options()} (defaults resolved,
     * llama.cpp's rounding applied); an estimate on options not yet given to an engine.
     */
    public int sequenceContextSize() {
        if (kvCache == KvCache.UNIFIED || maxSequences == 0) {
            return contextSize;
        }
        return contextSize / maxSequences;
    }

    public EngineOptions withFlashAttention(FlashAttention v) {
        return new EngineOptions(contextSize, batchSize, microBatchSize, maxSequences, threads, logitsCopy, v, kvCache);
    }
}
