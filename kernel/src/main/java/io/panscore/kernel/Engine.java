package io.panscore.kernel;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_engine_params;
import io.panscore.bindings.ps_sequence;
import io.panscore.bindings.ps_token_stats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Scores token sequences under a model: a llama.cpp context (KV cache, output buffers) plus
 * panscore's fused reduction, which turns each logits row into a few numbers where llama.cpp
 * computes it. One call packs many sequences into as few decodes as fit.
 *
 * <p>Thread-safety: calls on one engine are serialized (a second thread waits for the first), since
 * a llama.cpp context holds one KV cache; for parallel scoring open one engine per thread on a
 * shared {@link Model}. {@link #close()} waits for a call in flight, frees the context and is
 * idempotent; any later call throws {@link ClosedException}.
 *
 * <p>Memory: every call allocates its native buffers in a confined arena freed before it returns;
 * the engine itself holds only the llama.cpp context.
 */
public final class Engine implements AutoCloseable {

    private final Model model;
    private final Lifecycle lifecycle;
    private final EngineOptions effective;
    private final int vocabSize;

    private Engine(Model model, MemorySegment handle, EngineOptions effective) {
        this.model = model;
        this.lifecycle = new Lifecycle("engine on " + model.path(), handle, panscore_h::ps_engine_free, true);
        this.effective = effective;
        this.vocabSize = model.info().vocabSize();
    }

    static Engine create(Model model, EngineOptions options) {
        model.lifecycle().addDependent();
        try (var use = model.lifecycle().use(); Arena arena = Arena.ofConfined()) {
            MemorySegment p = ps_engine_params.allocate(arena);
            ps_engine_params.n_ctx(p, options.contextSize());
            ps_engine_params.n_batch(p, options.batchSize());
            ps_engine_params.n_ubatch(p, options.microBatchSize());
            ps_engine_params.n_seq_max(p, options.maxSequences());
            ps_engine_params.n_threads(p, options.threads());
            ps_engine_params.skip_logits_copy(p, options.logitsCopy().code);
            ps_engine_params.flash_attn(p, options.flashAttention().code);
            ps_engine_params.kv_per_seq(p, options.kvCache().code);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            NativeCalls.check(panscore_h.ps_engine_create(use.handle(), p, out), "creating an engine");
            MemorySegment handle = out.get(ValueLayout.ADDRESS, 0);
            NativeCalls.check(panscore_h.ps_engine_params_get(handle, p), "reading engine parameters");
            EngineOptions effective = new EngineOptions(ps_engine_params.n_ctx(p), ps_engine_params.n_batch(p),
                    ps_engine_params.n_ubatch(p), ps_engine_params.n_seq_max(p), ps_engine_params.n_threads(p),
                    EngineOptions.LogitsCopy.of(ps_engine_params.skip_logits_copy(p)),
                    EngineOptions.FlashAttention.of(ps_engine_params.flash_attn(p)),
                    EngineOptions.KvCache.of(ps_engine_params.kv_per_seq(p)));
            return new Engine(model, handle, effective);
        } catch (RuntimeException e) {
            model.lifecycle().removeDependent();
            throw e;
        }
    }

    public Model model() {
        return model;
    }

    Lifecycle lifecycle() {
        return lifecycle;
    }

    /** The options in force, defaults resolved (e.g. the actual context size and thread count). */
    public EngineOptions options() {
        return effective;
    }

    /** Scores one sequence with default options. */
    public TokenScores score(Sequence sequence) {
        return score(List.of(sequence), ScoreOptions.defaults()).getFirst();
    }

    /**
     * Scores sequences; results come back in input order.
     *
     * @throws InvalidInputException    (or its subclasses) for empty input, bad ranges, out-of-range
     *                                  token ids or sequences longer than the context; nothing is
     *                                  decoded then
     * @throws NanLogitsException       when the model produced NaN logits
     * @throws DecodeException          when llama.cpp fails to decode
     * @throws ClosedException          after {@link #close()}
     */
    public List<TokenScores> score(List<Sequence> sequences, ScoreOptions options) {
        requireSequences(sequences);
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment seqs = marshal(arena, sequences);
                long rows = scoredRows(sequences);
            int k = options.topK();
            if (k > 0 && rows * k > Integer.MAX_VALUE - 8) {
                throw new InvalidInputException(panscore_h.PS_ERR_INVALID_ARGUMENT(), rows + " positions x top-" + k
                        + " do not fit in one Java array; score fewer positions per call");
            }
            MemorySegment stats = ps_token_stats.allocateArray(Math.max(1, rows), arena);
            MemorySegment topIds = k > 0 ? arena.allocate(ValueLayout.JAVA_INT, rows * k) : MemorySegment.NULL;
            MemorySegment topLps = k > 0 ? arena.allocate(ValueLayout.JAVA_FLOAT, rows * k) : MemorySegment.NULL;
            MemorySegment params = options.toNative(arena);
            NativeCalls.check(panscore_h.ps_score(use.handle(), seqs, sequences.size(), params, stats, topIds, topLps),
                    "scoring " + sequences.size() + " sequence(s)");
            return unpack(sequences, stats, k, topIds, topLps);
        }
    }

    /**
     * The baseline: a plain llama.cpp forward pass that asks for the logits of every scored position
     * (llama.cpp copies them into its output buffer) and computes no statistics.
     */
    public void forward(List<Sequence> sequences) {
        requireSequences(sequences);
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            NativeCalls.check(panscore_h.ps_forward(use.handle(), marshal(arena, sequences), sequences.size(),
                    MemorySegment.NULL, 0), "forward pass");
        }
    }

    /**
     * The raw logits of every scored position, copied out of llama.cpp: row r (vocabSize floats at
     * {@code r * vocabSize}) belongs to the r-th scored position, sequences in order. This is the
     * path panscore exists to avoid; it is here for reference checks and the naive baseline.
     */
    public float[] logits(List<Sequence> sequences) {
        requireSequences(sequences);
        long rows = scoredRows(sequences);
        long floats = rows * vocabSize;
        if (floats > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException(0, rows + " rows of " + vocabSize + " logits do not fit in one Java array");
        }
        try (var use = lifecycle.use(); Arena arena = Arena.ofConfined()) {
            MemorySegment seqs = marshal(arena, sequences);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, Math.max(1, floats));
            NativeCalls.check(panscore_h.ps_forward(use.handle(), seqs, sequences.size(), out, floats), "forward pass");
            return out.asSlice(0, floats * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static void requireSequences(List<Sequence> sequences) {
        if (sequences == null || sequences.isEmpty()) {
            throw new InvalidInputException(panscore_h.PS_ERR_EMPTY_INPUT(), "no sequences to score");
        }
    }

    private static long scoredRows(List<Sequence> sequences) {
        long rows = 0;
        for (Sequence s : sequences) {
            rows += Math.max(0, s.scoredCount());
        }
        return rows;
    }

    private static MemorySegment marshal(Arena arena, List<Sequence> sequences) {
        MemorySegment seqs = ps_sequence.allocateArray(sequences.size(), arena);
        for (int i = 0; i < sequences.size(); i++) {
            Sequence s = sequences.get(i);
            MemorySegment slot = ps_sequence.asSlice(seqs, i);
            ps_sequence.tokens(slot, s.tokens().length == 0 ? MemorySegment.NULL
                    : arena.allocateFrom(ValueLayout.JAVA_INT, s.tokens()));
            ps_sequence.n_tokens(slot, s.tokens().length);
            ps_sequence.score_begin(slot, s.scoreBegin());
            ps_sequence.score_end(slot, s.scoreEnd());
            ps_sequence.prefix_group(slot, s.prefixGroup());
            ps_sequence.prefix_len(slot, s.prefixLength());
        }
        return seqs;
    }

    static List<TokenScores> unpack(List<Sequence> sequences, MemorySegment stats, int k, MemorySegment topIds,
            MemorySegment topLps) {
        long stride = ps_token_stats.sizeof();
        long lp = ps_token_stats.logprob$offset();
        long ent = ps_token_stats.entropy$offset();
        long rk = ps_token_stats.rank$offset();
        long am = ps_token_stats.argmax_id$offset();
        long amlp = ps_token_stats.argmax_logprob$offset();
        long tg = ps_token_stats.target_id$offset();
        List<TokenScores> out = new ArrayList<>(sequences.size());
        long row = 0;
        for (Sequence s : sequences) {
            int n = s.scoredCount();
            int[] target = new int[n];
            float[] logprob = new float[n];
            float[] entropy = new float[n];
            int[] rank = new int[n];
            int[] argmax = new int[n];
            float[] argmaxLp = new float[n];
            for (int i = 0; i < n; i++) {
                long base = (row + i) * stride;
                logprob[i] = stats.get(ValueLayout.JAVA_FLOAT, base + lp);
                entropy[i] = stats.get(ValueLayout.JAVA_FLOAT, base + ent);
                rank[i] = stats.get(ValueLayout.JAVA_INT, base + rk);
                argmax[i] = stats.get(ValueLayout.JAVA_INT, base + am);
                argmaxLp[i] = stats.get(ValueLayout.JAVA_FLOAT, base + amlp);
                target[i] = stats.get(ValueLayout.JAVA_INT, base + tg);
            }
            int[] ids = new int[n * k];
            float[] lps = new float[n * k];
            if (k > 0) {
                MemorySegment.copy(topIds, ValueLayout.JAVA_INT, row * k * Integer.BYTES, ids, 0, n * k);
                MemorySegment.copy(topLps, ValueLayout.JAVA_FLOAT, row * k * Float.BYTES, lps, 0, n * k);
            }
            out.add(new TokenScores(s.scoreBegin(), target, logprob, entropy, rank, argmax, argmaxLp, k, ids, lps));
            row += n;
        }
        return out;
    }

    /** Frees the llama.cpp context; waits for a call in flight; idempotent. */
    @Override
    public void close() {
        if (lifecycle.close()) {
            model.lifecycle().removeDependent();
        }
    }

    public boolean isClosed() {
        return lifecycle.isClosed();
    }
}
