package io.panscore.kernel;

import io.panscore.bindings.panscore_h;
import io.panscore.bindings.ps_append;
import io.panscore.bindings.ps_token_stats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Sessions whose contexts stay in the KV cache between calls, so that a context that grows step by
 * step is decoded once, token by token as it grows (GlimpRouter, SPEC §2). Each session owns one of
 * the engine's sequence slots; appended tokens wait until the next {@link #glimpse}, which decodes
 * the pending tokens of many sessions in one llama.cpp batch and returns, for each, the summary of
 * the next-token distribution.
 *
 * <p>The pool owns its engine: batch scoring on it would clear the sessions. Thread-safe: calls
 * into the engine (glimpses, generation steps, forks, closes) run one at a time; {@link #open} and
 * {@link #append}, which only queue tokens, do not wait for a running decode (so a caller can
 * append its next step while the batch before it decodes; tokens appended to a session while it is
 * being decoded wait for its next glimpse). Capacity: at most {@code maxSequences} open sessions and
 * {@code contextSize} KV cells in all; beyond either, a {@link CapacityException}. With a
 * {@linkplain EngineOptions.KvCache#PER_SEQUENCE per-sequence} KV cache each session also holds at
 * most {@link EngineOptions#sequenceContextSize()} tokens (its slot's own stream; beyond, a
 * {@link ContextOverflowException}), and a fork copies its source's stream. The KV cells are
 * reserved when tokens enter a session ({@link #open}, {@link #append}, {@link #fork}), not when
 * they are decoded, so a glimpse of an admitted session never fails for want of room: whoever would
 * overfill the cache is refused, not whoever glimpses next. A {@linkplain #setReserve reserve} of
 * slots and cells can be kept for transient sessions (one-shot glimpses), so long-lived sessions
 * cannot starve them.
 */
public final class SessionPool implements AutoCloseable {

    /** A session's handle. Use it only with the pool that opened it. */
    public static final class Session {
        private final int slot;
        private final long id;
        // written under the pool's monitor; volatile so length() and isClosed() read them from any thread
        private volatile int decoded;                  // tokens in the KV cache
        private volatile int[] pending = new int[0];   // appended, not yet decoded
        private Glimpse last;                          // summary after the last decoded token
        private int lastToken = -1;                    // the context's last token (Generator re-decodes it)
        private volatile boolean closed;

        private Session(int slot, long id) {
            this.slot = slot;
            this.id = id;
        }

        /** A number unique within the pool. */
        public long id() {
            return id;
        }

        /** Tokens in the context so far (decoded and pending). */
        public int length() {
            return decoded + pending.length;
        }

        public boolean isClosed() {
            return closed;
        }
    }

    private final Engine engine;
    private final Session[] slots;
    private final int contextSize;
    private final int sessionContext; // tokens one session may hold (contextSize, or its KV stream's size)
    private final int topK;
    private long nextId = 1;
    private long decodedTokens;                        // tokens decoded by glimpse and sample, re-decodes included
    private int reservedSlots;
    private int reservedTokens;
    // Two locks, always taken in this order. engineLock serializes every native call on the engine
    // (decodes, KV copies and clears: a llama.cpp context is single-threaded). The pool's monitor
    // guards the bookkeeping (slots, pending tokens, the KV budget) and is not held across a decode,
    // so open and append never wait for one: the router's callers append their next step while
    // the previous batch decodes, instead of queueing behind it.
    private final ReentrantLock engineLock = new ReentrantLock();

    /**
     * @param topK every glimpse also returns the k most likely next tokens (and their renormalised
     *             entropy); 0 for none
     */
    public SessionPool(Model model, EngineOptions options, int topK) {
        if (topK < 0 || topK > model.info().vocabSize()) {
            throw new IllegalArgumentException("topK must be in [0, " + model.info().vocabSize() + "], got " + topK);
        }
        this.engine = model.newEngine(options);
        this.slots = new Session[engine.options().maxSequences()];
        this.contextSize = engine.options().contextSize();
        this.sessionContext = engine.options().sequenceContextSize();
        this.topK = topK;
    }

    public Model model() {
        return engine.model();
    }

    public EngineOptions options() {
        return engine.options();
    }

    /** Open sessions. */
    public synchronized int openCount() {
        int n = 0;
        for (Session s : slots) {
            n += s == null ? 0 : 1;
        }
        return n;
    }

    /**
     * Opens a session on a context (decoded at its first glimpse).
     *
     * @throws CapacityException when every slot is taken
     */
    public synchronized Session open(int[] context) {
        return open(context, false);
    }

    /**
     * Keeps {@code slots} session slots and {@code tokens} KV cells free for transient sessions:
     * {@link #open(int[])}, {@link #append} and {@link #fork} refuse what would eat into them, only
     * {@link #open(int[], boolean) open(context, true)} may use them.
     */
    public synchronized void setReserve(int slots, int tokens) {
        if (slots < 0 || slots >= this.slots.length || tokens < 0 || tokens >= contextSize) {
            throw new IllegalArgumentException("the reserve must leave room: slots in [0, " + this.slots.length + "), tokens in [0, " + contextSize
                    + "), got " + slots + ", " + tokens);
        }
        this.reservedSlots = slots;
        this.reservedTokens = tokens;
    }

    /** KV cells held by open sessions (a fork's shared prefix counted again: conservative). */
    public synchronized long usedTokens() {
        long used = 0;
        for (Session o : slots) {
            used += o == null ? 0 : o.length();
        }
        return used;
    }

    /**
     * Opens a session; a {@code transient} one may use the {@linkplain #setReserve reserve}.
     *
     * @throws CapacityException when no slot or not enough KV cells are free
     */
    public synchronized Session open(int[] context, boolean transientSession) {
        if (context.length == 0) {
            throw new InvalidInputException(panscore_h.PS_ERR_EMPTY_INPUT(), "a session needs a non-empty context");
        }
        requireFitsOneSession(context);
        checkTokens(context);
        int slot = freeSlot(transientSession ? 0 : reservedSlots);
        admit(context.length, transientSession ? 0 : reservedTokens);
        Session s = new Session(slot, nextId++);
        s.pending = context.clone();
        s.lastToken = context[context.length - 1];
        slots[s.slot] = s;
        return s;
    }

    /** Appends tokens to a session's context; they are decoded at the next glimpse. */
    public synchronized void append(Session s, int[] tokens) {
        requireOpen(s);
        checkTokens(tokens);
        if (s.length() + tokens.length > sessionContext) {
            throw new ContextOverflowException(panscore_h.PS_ERR_CONTEXT_OVERFLOW(), "session " + s.id + " would hold " + (s.length() + tokens.length)
                    + " tokens, more than " + contextName() + " of " + sessionContext);
        }
        admit(tokens.length, reservedTokens);
        if (tokens.length > 0) {
            int[] p = Arrays.copyOf(s.pending, s.pending.length + tokens.length);
            System.arraycopy(tokens, 0, p, s.pending.length, tokens.length);
            s.pending = p;
            s.lastToken = tokens[tokens.length - 1];
        }
    }

    /** A new session with the same context; the KV cells are shared until either appends. */
    public Session fork(Session s) {
        return exclusive(() -> forkNow(s));
    }

    private Session forkNow(Session s) {
        requireOpen(s);
        int slot = freeSlot(reservedSlots);
        admit(s.length(), reservedTokens);
        Session f = new Session(slot, nextId++);
        try (var use = engine.lifecycle().use()) {
            NativeCalls.check(panscore_h.ps_session_copy(use.handle(), s.slot, f.slot, s.decoded), "forking session " + s.id);
        }
        f.decoded = s.decoded;
        f.pending = s.pending.clone();
        f.last = s.last;
        f.lastToken = s.lastToken;
        slots[f.slot] = f;
        return f;
    }

    /**
     * A new session holding {@code context}, whose first {@code shared} tokens are also the first
     * tokens of {@code s}: the KV cells of those of them that {@code s} has decoded are copied, not
     * decoded again (at least the last token of {@code context} stays pending, so the next glimpse
     * has a distribution to read). For a caller whose re-tokenized context shares only a prefix
     * with what {@code s} holds. {@code s} stays open; the caller closes it. Needs a free slot and
     * room for {@code context.length} more tokens while both are open.
     *
     * @throws IllegalArgumentException when {@code shared} is negative or longer than {@code context}
     * @throws CapacityException when no slot or not enough KV cells are free
     */
    public Session forkPrefix(Session s, int shared, int[] context) {
        return exclusive(() -> forkPrefixNow(s, shared, context));
    }

    private Session forkPrefixNow(Session s, int shared, int[] context) {
        requireOpen(s);
        if (shared < 0 || shared > context.length || context.length == 0) {
            throw new IllegalArgumentException("forkPrefix: " + shared + " shared tokens of a context of " + context.length);
        }
        checkTokens(context);
        requireFitsOneSession(context);
        int keep = Math.min(Math.min(shared, s.decoded), context.length - 1);
        int slot = freeSlot(reservedSlots);
        admit(context.length, reservedTokens);
        Session f = new Session(slot, nextId++);
        if (keep > 0) {
            try (var use = engine.lifecycle().use()) {
                NativeCalls.check(panscore_h.ps_session_copy(use.handle(), s.slot, f.slot, keep), "forking the first " + keep + " tokens of session " + s.id);
            }
        }
        f.decoded = keep;
        f.pending = Arrays.copyOfRange(context, keep, context.length);
        f.lastToken = context[context.length - 1];
        slots[f.slot] = f;
        return f;
    }

    /** Frees a session's slot and KV cells; idempotent. */
    public void close(Session s) {
        exclusive(() -> {
            if (s.closed) {
                return null;
            }
            s.closed = true;
            if (slots[s.slot] == s) {
                slots[s.slot] = null;
                try (var use = engine.lifecycle().use()) {
                    NativeCalls.check(panscore_h.ps_session_clear(use.handle(), s.slot), "closing session " + s.id);
                }
            }
            return null;
        });
    }

    /**
     * Summarises the next-token distribution of each session, decoding all their pending tokens in
     * one batch (a session with nothing pending answers from its last summary). A session may appear
     * once per call.
     *
     * @throws CapacityException when the KV cache has no room; no session is changed then
     */
    public List<Glimpse> glimpse(List<Session> sessions) {
        engineLock.lock();
        try {
            Glimpse[] out = new Glimpse[sessions.size()];
            List<Integer> todo = new ArrayList<>();
            int[][] taken;
            synchronized (this) {
                for (int i = 0; i < sessions.size(); i++) {
                    Session s = requireOpenOnce(sessions, i, "glimpse");
                    if (s.pending.length == 0) {
                        out[i] = s.last; // never null: a session starts with pending tokens, and appends keep some
                    } else {
                        todo.add(i);
                    }
                }
                if (todo.isEmpty()) {
                    return Arrays.asList(out);
                }
                // The KV budget: every open session's tokens, a fork's shared prefix counted again (so
                // the check is conservative). llama.cpp rounds its cache up, so without this check the
                // limit would depend on its padding rather than on the contextSize asked for.
                long used = usedTokens();
                if (used > contextSize) {
                    throw new CapacityException(panscore_h.PS_ERR_CAPACITY(), "the open sessions hold " + used + " tokens but the KV cache holds "
                            + contextSize + "; close sessions or raise contextSize");
                }
                // what this decode takes: pending arrays are replaced on append, never changed in
                // place, so the reference is a snapshot; decoded only changes under engineLock
                taken = new int[todo.size()][];
                for (int j = 0; j < todo.size(); j++) {
                    taken[j] = sessions.get(todo.get(j)).pending;
                }
            }
            Glimpse[] got = decode(sessions, todo, taken); // without the monitor: appends go on meanwhile
            synchronized (this) {
                for (int j = 0; j < todo.size(); j++) {
                    Session s = sessions.get(todo.get(j));
                    decodedTokens += taken[j].length;
                    s.decoded += taken[j].length;
                    // tokens appended while this decode ran stay pending for the next glimpse
                    s.pending = Arrays.copyOfRange(s.pending, taken[j].length, s.pending.length);
                    s.last = got[j];
                    out[todo.get(j)] = got[j];
                }
            }
            return Arrays.asList(out);
        } finally {
            engineLock.unlock();
        }
    }

    /** Decodes {@code taken[j]} after the decoded tokens of session {@code sessions.get(todo.get(j))}; changes no session. */
    private Glimpse[] decode(List<Session> sessions, List<Integer> todo, int[][] taken) {
        Glimpse[] got = new Glimpse[todo.size()];
        try (var use = engine.lifecycle().use(); Arena arena = Arena.ofConfined()) {
            MemorySegment appends = ps_append.allocateArray(todo.size(), arena);
            for (int j = 0; j < todo.size(); j++) {
                Session s = sessions.get(todo.get(j));
                MemorySegment a = ps_append.asSlice(appends, j);
                ps_append.seq_id(a, s.slot);
                ps_append.pos(a, s.decoded);
                ps_append.tokens(a, arena.allocateFrom(ValueLayout.JAVA_INT, taken[j]));
                ps_append.n_tokens(a, taken[j].length);
            }
            MemorySegment params = ScoreOptions.defaults().withTopK(topK).toNative(arena);
            MemorySegment stats = ps_token_stats.allocateArray(todo.size(), arena);
            TopK best = TopK.allocate(arena, todo.size(), topK);
            NativeCalls.check(panscore_h.ps_session_decode(use.handle(), appends, todo.size(), params, stats, best.ids(), best.logprobs()),
                    "decoding " + todo.size() + " session(s)");
            for (int j = 0; j < todo.size(); j++) {
                MemorySegment st = ps_token_stats.asSlice(stats, j);
                int[] topIds = best.ids(j);
                float[] topLps = best.logprobs(j);
                got[j] = new Glimpse(ps_token_stats.entropy(st), Glimpse.renormalisedEntropy(topLps, 0, topK), ps_token_stats.argmax_id(st),
                        ps_token_stats.argmax_logprob(st), topIds, topLps);
            }
        }
        return got;
    }

    /**
     * One generation step for {@link Generator}: decodes each session's pending tokens in one batch
     * (a session with nothing pending re-decodes its last token, to get the distribution after it
     * again), picks the next token of each with its sampler ({@code NULL} = greedy), and appends that
     * token to the session as pending. Each token carries the fused statistics of its unmodified
     * distribution and {@code topK} best alternatives.
     *
     * @throws CapacityException        when the KV cache has no room; the sessions' contexts are then unchanged
     * @throws ContextOverflowException when a session is already as long as the context
     */
    GeneratedToken[] sample(List<Session> sessions, List<MemorySegment> samplers, int topK) {
        return exclusive(() -> sampleNow(sessions, samplers, topK));
    }

    private GeneratedToken[] sampleNow(List<Session> sessions, List<MemorySegment> samplers, int topK) {
        for (int i = 0; i < sessions.size(); i++) {
            Session s = requireOpenOnce(sessions, i, "step");
            if (s.length() >= sessionContext) {
                throw new ContextOverflowException(panscore_h.PS_ERR_CONTEXT_OVERFLOW(), "session " + s.id + " holds " + s.length()
                        + " tokens, the whole of " + contextName() + " of " + sessionContext + ": no room for a generated token");
            }
        }
        admit(sessions.size(), reservedTokens); // one generated token per session enters the KV cache, like an append
        int n = sessions.size();
        GeneratedToken[] out = new GeneratedToken[n];
        try (var use = engine.lifecycle().use(); Arena arena = Arena.ofConfined()) {
            MemorySegment appends = ps_append.allocateArray(n, arena);
            MemorySegment samplerArray = arena.allocate(ValueLayout.ADDRESS, n);
            boolean anySampler = false;
            boolean[] rewound = new boolean[n];
            for (int j = 0; j < n; j++) {
                Session s = sessions.get(j);
                if (s.pending.length == 0) { // re-decode the last token: the slot's tail is replaced natively
                    rewound[j] = true;
                    s.decoded -= 1;
                    s.pending = new int[] {s.lastToken};
                }
                MemorySegment a = ps_append.asSlice(appends, j);
                ps_append.seq_id(a, s.slot);
                ps_append.pos(a, s.decoded);
                ps_append.tokens(a, arena.allocateFrom(ValueLayout.JAVA_INT, s.pending));
                ps_append.n_tokens(a, s.pending.length);
                MemorySegment sampler = samplers.get(j);
                samplerArray.setAtIndex(ValueLayout.ADDRESS, j, sampler);
                anySampler |= !sampler.equals(MemorySegment.NULL);
            }
            MemorySegment params = ScoreOptions.defaults().withTopK(topK).toNative(arena);
            MemorySegment stats = ps_token_stats.allocateArray(n, arena);
            TopK best = TopK.allocate(arena, n, topK);
            MemorySegment eog = arena.allocate(ValueLayout.JAVA_INT, n);
            int status = panscore_h.ps_session_sample(use.handle(), appends, n, anySampler ? samplerArray : MemorySegment.NULL, params,
                    stats, best.ids(), best.logprobs(), eog);
            if (status != panscore_h.PS_OK()) {
                PanscoreException failure = NativeCalls.exceptionFor(status, "generating for " + n + " session(s): " + NativeCalls.lastError());
                // a failed call leaves each slot with its first pos tokens, or untouched when it failed
                // before decoding: keep the rewound sessions' view in step with their slots
                MemorySegment length = arena.allocate(ValueLayout.JAVA_INT);
                for (int j = 0; j < n; j++) {
                    Session s = sessions.get(j);
                    if (rewound[j] && panscore_h.ps_session_length(use.handle(), s.slot, length) == panscore_h.PS_OK()
                            && length.get(ValueLayout.JAVA_INT, 0) == s.decoded + 1) {
                        s.decoded += 1;
                        s.pending = new int[0];
                    }
                }
                throw failure;
            }
            for (int j = 0; j < n; j++) {
                Session s = sessions.get(j);
                MemorySegment st = ps_token_stats.asSlice(stats, j);
                int[] topIds = best.ids(j);
                float[] topLps = best.logprobs(j);
                int token = ps_token_stats.target_id(st);
                out[j] = new GeneratedToken(token, ps_token_stats.logprob(st), ps_token_stats.rank(st), ps_token_stats.entropy(st),
                        ps_token_stats.argmax_id(st), ps_token_stats.argmax_logprob(st), topIds, topLps, eog.getAtIndex(ValueLayout.JAVA_INT, j) != 0);
                decodedTokens += s.pending.length;
                s.decoded += s.pending.length;
                s.pending = new int[] {token};
                s.lastToken = token;
            }
        }
        return out;
    }

    /**
     * Tokens decoded so far by {@link #glimpse} and by generation steps, counting the last token a
     * generation re-decodes when its session has nothing pending (what routing and generation cost).
     */
    public synchronized long decodedTokens() {
        return decodedTokens;
    }

    /** A free slot, leaving {@code keep} others free. */
    private int freeSlot(int keep) {
        int free = -1;
        int n = 0;
        for (int i = slots.length - 1; i >= 0; i--) {
            if (slots[i] == null) {
                free = i;
                n++;
            }
        }
        if (n <= keep) {
            throw new CapacityException(panscore_h.PS_ERR_CAPACITY(), "all " + (slots.length - keep) + " session slots are in use"
                    + (keep > 0 ? " (" + keep + " more kept for one-shot glimpses)" : "") + "; close sessions or raise maxSequences");
        }
        return free;
    }

    /** A new session's whole context must fit what one session may hold (open and forkPrefix). */
    private void requireFitsOneSession(int[] context) {
        if (context.length > sessionContext) {
            throw new ContextOverflowException(panscore_h.PS_ERR_CONTEXT_OVERFLOW(), "a context of " + context.length
                    + " tokens is more than " + contextName() + " of " + sessionContext + " tokens");
        }
    }

    private String contextName() {
        return engine.options().kvCache() == EngineOptions.KvCache.PER_SEQUENCE
                ? "a session's KV stream (per-sequence KV cache: contextSize / maxSequences)" : "the KV cache";
    }

    /** Refuses {@code more} tokens when they would leave less than {@code keep} KV cells free. */
    private void admit(int more, int keep) {
        long used = usedTokens();
        if (used + more > contextSize - keep) {
            throw new CapacityException(panscore_h.PS_ERR_CAPACITY(), "the open sessions hold " + used + " tokens; " + more + " more would not fit the KV cache of "
                    + contextSize + (keep > 0 ? " (" + keep + " kept for one-shot glimpses)" : "") + "; close sessions or raise contextSize");
        }
    }

    /**
     * The native output buffers of the {@code k} best tokens of {@code n} rows (NULL when k is 0,
     * which the C API reads as "none"), and each row's ids and log-probs read back.
     */
    private record TopK(MemorySegment ids, MemorySegment logprobs, int k) {
        static TopK allocate(Arena arena, int n, int k) {
            return k > 0 ? new TopK(arena.allocate(ValueLayout.JAVA_INT, (long) n * k), arena.allocate(ValueLayout.JAVA_FLOAT, (long) n * k), k)
                    : new TopK(MemorySegment.NULL, MemorySegment.NULL, 0);
        }

        int[] ids(int row) {
            return k > 0 ? ids.asSlice((long) row * k * Integer.BYTES, (long) k * Integer.BYTES).toArray(ValueLayout.JAVA_INT) : new int[0];
        }

        float[] logprobs(int row) {
            return k > 0 ? logprobs.asSlice((long) row * k * Float.BYTES, (long) k * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT) : new float[0];
        }
    }

    /** Session {@code i} of a call, which must be open and appear in the call once. */
    private Session requireOpenOnce(List<Session> sessions, int i, String call) {
        Session s = sessions.get(i);
        requireOpen(s);
        for (int j = 0; j < i; j++) {
            if (sessions.get(j) == s) {
                throw new InvalidInputException(panscore_h.PS_ERR_INVALID_ARGUMENT(), "session " + s.id + " appears twice in one " + call);
            }
        }
        return s;
    }

    private void requireOpen(Session s) {
        if (s.closed || slots[s.slot] != s) {
            throw new ClosedException("session " + s.id + " is closed");
        }
    }

    private void checkTokens(int[] tokens) {
        int vocab = engine.model().info().vocabSize();
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new TokenOutOfRangeException(panscore_h.PS_ERR_TOKEN_OUT_OF_RANGE(), "token " + i + ": id " + tokens[i]
                        + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
    }

    /** Closes every session and the engine (after a running decode). */
    @Override
    public void close() {
        exclusive(() -> {
            Arrays.fill(slots, null);
            engine.close();
            return null;
        });
    }

    /** Runs {@code body} holding engineLock, then the monitor: for every call into the engine but a glimpse's decode. */
    private <T> T exclusive(Supplier<T> body) {
        engineLock.lock();
        try {
            synchronized (this) {
                return body.get();
            }
        } finally {
            engineLock.unlock();
        }
    }
}
