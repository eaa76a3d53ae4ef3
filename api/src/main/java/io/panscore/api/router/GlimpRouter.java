package io.panscore.api.router;

import io.panscore.api.trajectory.PromptTemplate;
import io.panscore.api.trajectory.Trajectory;
import io.panscore.api.trajectory.TrajectoryEncoder;
import io.panscore.kernel.CapacityException;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.ClosedException;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Glimpse;
import io.panscore.kernel.Model;
import io.panscore.kernel.ModelOptions;
import io.panscore.kernel.PanscoreException;
import io.panscore.kernel.SessionPool;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * GlimpRouter (SPEC §2): before each reasoning step, the entropy of the step's first token under a
 * small model decides whether the small or the large model writes the step.
 *
 * <p>Sessions keep their context in the KV cache: opening one decodes the prompt (at its first
 * glimpse), appending an accepted step decodes only the new tokens. Glimpses from many threads on
 * different sessions are gathered by one dispatcher thread into a single decode: it waits at most
 * {@code maxWait} after the first request for others, up to {@code maxBatch}. A glimpse that finds
 * no decode running and nobody queued is decoded at once on the calling thread. When the session
 * slots, the KV cache or the request queue are full, calls fail fast with a
 * {@link CapacityException} rather than wait.
 *
 * <p>Defaults follow the authors' released code (docs/PARITY.md): the top-20 renormalised entropy
 * with τ = 1.0, and sessions opened on chat messages build the released probe context (chat
 * template through Jinja, generation prompt, then {@code "<think>" + steps joined by "\n\n" +
 * "\n\n"} continued), tokenized whole at every step.
 *
 * <p>Thread-safety: every method may be called from any thread. Sessions opened on text or tokens
 * are tokenized piecewise: the context, then each appended step followed by the delimiter.
 */
public final class GlimpRouter implements AutoCloseable {

    /** A reasoning trace in progress. Close it (or the router) to free its KV cells. */
    public final class RouterSession implements AutoCloseable {
        private volatile SessionPool.Session session;
        private final long id;
        // RELEASED probe contexts: the conversation, the accepted steps, and the context's tokens
        private final List<ChatMessage> messages;
        private final List<String> steps = new ArrayList<>();
        private int[] tokens;

        private RouterSession(SessionPool.Session session) {
            this(session, null, null);
        }

        private RouterSession(SessionPool.Session session, List<ChatMessage> messages, int[] tokens) {
            this.session = session;
            this.id = session.id();
            this.messages = messages == null ? null : List.copyOf(messages);
            this.tokens = tokens;
        }

        public long id() {
            return id;
        }

        /** The accepted steps of a session opened on chat messages with {@link ProbeContext#RELEASED}. */
        public List<String> steps() {
            return List.copyOf(steps);
        }

        /** Tokens in the context. */
        public int length() {
            return session.length();
        }

        public boolean isClosed() {
            return session.isClosed();
        }

        @Override
        public void close() {
            pool.close(session);
        }
    }

    /** Hooks for metrics; called on the thread that decoded (the dispatcher, or a lone caller). */
    public interface Listener {
        default void onBatch(int glimpses, long decodeNanos) {}

        default void onGlimpse(Decision decision, long latencyNanos) {}
    }

    private record Request(RouterSession session, CompletableFuture<Decision> result, long enqueued) {}

    private final Model model;
    private final boolean ownsModel;
    private final SessionPool pool;
    private final double threshold;
    private final EntropyMode mode;
    private final String delimiter;
    private final ProbeContext probeContext;
    private final int maxBatch;
    private final long maxWaitNanos;
    private final BlockingQueue<Request> queue;
    private final Listener listener;
    private final Thread dispatcher;
    private final ReentrantLock decoding = new ReentrantLock(); // one batch decodes at a time
    private final AtomicInteger queued = new AtomicInteger();    // glimpses handed to the dispatcher, not yet answered
    private volatile boolean closed;
    private final TrajectoryEncoder prompts; // renders chat messages with the builder's template
    private final PromptTemplate template;

    private GlimpRouter(Builder b, Model model, boolean ownsModel) {
        this.model = model;
        this.ownsModel = ownsModel;
        EngineOptions options = EngineOptions.defaults().withContextSize(b.contextSize).withMaxSequences(b.maxSessions).withThreads(b.threads)
                .withBatchSize(b.batchSize).withMicroBatchSize(b.batchSize).withKvCache(b.kvCache);
        this.pool = new SessionPool(model, options, TOP_K);
        if (b.reserveSlots > 0 || b.reserveTokens > 0) {
            try {
                pool.setReserve(b.reserveSlots, b.reserveTokens);
            } catch (RuntimeException e) {
                pool.close();
                throw e;
            }
        }
        if (b.queueCapacity <= 0 && (b.maxBatch > 0 ? b.maxBatch : pool.options().maxSequences()) > Integer.MAX_VALUE / 4) {
            pool.close();
            throw new IllegalArgumentException("maxBatch is too large for the default queue capacity (4 x maxBatch)");
        }
        this.threshold = b.threshold;
        this.mode = b.mode;
        this.delimiter = b.delimiter;
        this.probeContext = b.probeContext;
        this.maxBatch = b.maxBatch > 0 ? b.maxBatch : pool.options().maxSequences();
        this.maxWaitNanos = b.maxWait.toNanos();
        this.queue = new ArrayBlockingQueue<>(b.queueCapacity > 0 ? b.queueCapacity : 4 * this.maxBatch);
        this.listener = b.listener;
        this.prompts = new TrajectoryEncoder(model, b.template);
        this.template = b.template;
        this.dispatcher = Thread.ofPlatform().name("panscore-glimpse-dispatcher").daemon().start(this::dispatch);
    }

    /** k of the top-k renormalised entropy (the authors' code asks vLLM for the top 20). */
    public static final int TOP_K = 20;

    public static Builder builder(Path model) {
        return new Builder(Objects.requireNonNull(model, "model"), null);
    }

    /** A router on a model the caller owns (and closes after the router). */
    public static Builder builder(Model model) {
        return new Builder(null, Objects.requireNonNull(model, "model"));
    }

    /** Settings; every one has a default. */
    public static final class Builder {
        private final Path path;
        private final Model model;
        private double threshold = 1.0;
        private EntropyMode mode = EntropyMode.TOP_K;
        private ProbeContext probeContext = ProbeContext.RELEASED;
        private String delimiter = "\n\n";
        private int maxSessions = 16;
        private int contextSize = 4096;
        private int batchSize = 512;
        private int threads = 0;
        private int maxBatch = 0;
        private Duration maxWait = Duration.ofNanos(200_000);
        private int queueCapacity = 0;
        private ModelOptions modelOptions = ModelOptions.defaults();
        private Listener listener = new Listener() {};
        private PromptTemplate template = PromptTemplate.model();
        private int reserveSlots;
        private int reserveTokens;
        private EngineOptions.KvCache kvCache = EngineOptions.KvCache.UNIFIED;

        private Builder(Path path, Model model) {
            this.path = path;
            this.model = model;
        }

        /** τ: a step goes to the large model when its entropy is at least τ (default 1.0, the authors' default on top-k entropy). */
        public Builder threshold(double tau) {
            if (!Double.isFinite(tau)) {
                throw new IllegalArgumentException("threshold must be finite, got " + tau);
            }
            this.threshold = tau;
            return this;
        }

        /**
         * Which entropy is compared with τ: {@link EntropyMode#TOP_K} (default, k = 20 renormalised,
         * the released code's, for which τ = 1.0 is the authors' value) or {@link EntropyMode#EXACT}
         * (full vocabulary; larger, so take τ from {@link #calibrate}).
         */
        public Builder entropyMode(EntropyMode m) {
            this.mode = Objects.requireNonNull(m);
            return this;
        }

        /** How sessions opened on chat messages build their context (default {@link ProbeContext#RELEASED}). */
        public Builder probeContext(ProbeContext p) {
            this.probeContext = Objects.requireNonNull(p);
            return this;
        }

        /** Appended after every accepted step (default "\n\n", SPEC §2). */
        public Builder delimiter(String d) {
            this.delimiter = Objects.requireNonNull(d);
            return this;
        }

        /** Most open sessions (default 16): one KV sequence slot each. */
        public Builder maxSessions(int n) {
            this.maxSessions = positive("maxSessions", n);
            return this;
        }

        /** KV cache size in tokens shared by all sessions (default 4096). */
        public Builder contextSize(int n) {
            this.contextSize = positive("contextSize", n);
            return this;
        }

        /** Most tokens per decode (default 512). */
        public Builder batchSize(int n) {
            this.batchSize = positive("batchSize", n);
            return this;
        }

        /**
         * llama.cpp's threads per decode (0: all cores). With many threads glimpsing at once on few
         * cores, leave cores to them: their own work (tokenizing steps, waking up) otherwise
         * pre-empts a decode thread, and llama.cpp's threads wait for each other at every graph
         * node. On 2 cores with per-sequence KV, 16 callers glimpsed as fast with 1 thread as with 2
         * on a Qwen2-vocabulary fixture and 2.3x faster on a tiny model (docs/BENCHMARKS.md, issue 18).
         */
        public Builder threads(int n) {
            this.threads = n;
            return this;
        }

        /** Most glimpses per decode (default: maxSessions). */
        public Builder maxBatch(int n) {
            this.maxBatch = positive("maxBatch", n);
            return this;
        }

        /**
         * How long the dispatcher waits for more glimpses after the first (default 200 µs). Each
         * glimpse of a batch waits up to this long; a glimpse that misses the batch waits for the
         * whole next decode. Raising it (e.g. to a few per cent of a batched decode) fills batches
         * more often when callers return at different times.
         */
        public Builder maxWait(Duration d) {
            this.maxWait = Objects.requireNonNull(d);
            return this;
        }

        /** Most glimpses waiting (default 4 x maxBatch); beyond it, CapacityException. */
        public Builder queueCapacity(int n) {
            this.queueCapacity = positive("queueCapacity", n);
            return this;
        }

        public Builder modelOptions(ModelOptions o) {
            this.modelOptions = Objects.requireNonNull(o);
            return this;
        }

        /**
         * Keeps {@code slots} session slots and {@code tokens} KV cells for one-shot glimpses
         * ({@link GlimpRouter#glimpseContext}), so that long-lived sessions cannot take the whole
         * cache (default none).
         */
        public Builder oneShotReserve(int slots, int tokens) {
            if (slots < 0 || tokens < 0) {
                throw new IllegalArgumentException("the reserve must be >= 0, got " + slots + " slots, " + tokens + " tokens");
            }
            this.reserveSlots = slots;
            this.reserveTokens = tokens;
            return this;
        }

        /**
         * How sessions share the KV cache (default UNIFIED). PER_SEQUENCE gives each session slot a
         * stream of its own (contextSize / maxSessions tokens, rounded up to 256): batched glimpses
         * then do not attend over each other's cells, and a fork copies its source's stream.
         */
        public Builder kvCache(EngineOptions.KvCache k) {
            this.kvCache = Objects.requireNonNull(k);
            return this;
        }

        public Builder listener(Listener l) {
            this.listener = Objects.requireNonNull(l);
            return this;
        }

        /** How chat messages become the prompt text (default: the model's own chat template). */
        public Builder template(PromptTemplate t) {
            this.template = Objects.requireNonNull(t);
            return this;
        }

        public GlimpRouter build() {
            if (model != null) {
                return new GlimpRouter(this, model, false);
            }
            Model m = Model.load(path, modelOptions);
            try {
                return new GlimpRouter(this, m, true);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }

        private static int positive(String name, int n) {
            if (n <= 0) {
                throw new IllegalArgumentException(name + " must be > 0, got " + n);
            }
            return n;
        }
    }

    public Model model() {
        return model;
    }

    public double threshold() {
        return threshold;
    }

    public EntropyMode entropyMode() {
        return mode;
    }

    /** Opens a session on a prompt given as text (tokenized with the model's BOS; special-token text is parsed). */
    public RouterSession open(String prompt) {
        return open(model.tokenize(prompt, true, true));
    }

    /** Chat messages as prompt text: the builder's template (default: the model's), ending with an open assistant turn. */
    public String renderChat(List<ChatMessage> messages) {
        return prompts.renderPrompt(new Trajectory("", "", "", null, messages, ""));
    }

    public ProbeContext probeContext() {
        return probeContext;
    }

    /**
     * Opens a session on chat messages, rendered with the model's chat template (Jinja) and the
     * generation prompt. With {@link ProbeContext#RELEASED} (default) later steps rebuild the
     * context exactly as the released code does (see {@link #probeText}). With another template
     * than the model's (the builder's {@link Builder#template}) or {@link ProbeContext#PIECEWISE},
     * the rendered prompt is decoded and later steps are appended piece by piece.
     */
    public RouterSession open(List<ChatMessage> messages) {
        requireOpen();
        if (probeContext == ProbeContext.PIECEWISE || template.kind() != PromptTemplate.Kind.MODEL) {
            return open(renderChat(messages));
        }
        int[] tokens = tokenizeContext(probeText(model, messages, List.of()));
        return new RouterSession(pool.open(tokens), messages, tokens);
    }

    /**
     * The probe context of the released GlimpRouter code (src/glimp_router.py) before step
     * {@code steps.size() + 1}: the conversation rendered with the model's chat template and the
     * generation prompt; once there are steps, the conversation plus an assistant message
     * {@code "<think>" + String.join("\n\n", steps) + "\n\n"} that is continued (vLLM's
     * continue_final_message).
     */
    public static String probeText(Model model, List<ChatMessage> messages, List<String> steps) {
        if (steps.isEmpty()) {
            return model.renderChatJinja(messages, null, true, false);
        }
        List<ChatMessage> all = new ArrayList<>(messages);
        all.add(new ChatMessage("assistant", "<think>" + String.join("\n\n", steps) + "\n\n"));
        return model.renderChatJinja(all, null, false, true);
    }

    /** A whole context's tokens, as the released code gets them: the text tokenized at once (special tokens parsed, no second BOS). */
    private int[] tokenizeContext(String text) {
        return tokenizeWhole(model, text);
    }

    /** Opens a session on tokens. */
    public RouterSession open(int[] tokens) {
        requireOpen();
        return new RouterSession(pool.open(tokens));
    }

    /**
     * Appends an accepted step; decoded at the next glimpse. A session opened on chat messages with
     * {@link ProbeContext#RELEASED} re-renders its whole context ({@link #probeText}) and tokenizes
     * it at once, so its tokens are exactly those of the released code; the KV cache keeps the
     * common prefix and decodes only the rest (when the new tokens do not extend the old ones, e.g.
     * when the template's first continued turn differs from its generation prompt, the common
     * prefix's cells are copied into a new slot and only the tokens after it are decoded).
     * Other sessions append the step and the delimiter, tokenized on their own.
     */
    public void append(RouterSession s, String step) {
        requireOpen();
        if (s.messages == null) {
            pool.append(s.session, model.tokenize(step + delimiter, false, false));
            return;
        }
        synchronized (s) {
            advanceReleased(s, s.tokens, step);
        }
    }

    /**
     * A RELEASED session after {@code step}: its context re-rendered and tokenized whole; when that
     * extends the tokens the session holds ({@code held}), only the rest is appended, otherwise the
     * context is decoded afresh. Callers hold the session's monitor.
     */
    private void advanceReleased(RouterSession s, int[] held, String step) {
        List<String> steps = new ArrayList<>(s.steps);
        steps.add(step);
        int[] next = tokenizeContext(probeText(model, s.messages, steps));
        boolean extendsHeld = next.length >= held.length && java.util.Arrays.equals(held, 0, held.length, next, 0, held.length);
        if (extendsHeld) {
            if (next.length > held.length) {
                pool.append(s.session, java.util.Arrays.copyOfRange(next, held.length, next.length));
            }
        } else {
            s.session = rebase(s.session, held, next);
        }
        s.tokens = next;
        s.steps.add(step);
    }

    /**
     * A session holding {@code next} in place of {@code old}, which held {@code held}: the common
     * prefix's KV cells are copied and only the rest is decoded (re-rendering a released context
     * changes its tail: {@code <think>} after the first step, merges across a step boundary), or the
     * whole context is decoded afresh when nothing is shared or no slot is free for the copy.
     */
    private SessionPool.Session rebase(SessionPool.Session old, int[] held, int[] next) {
        int common = java.util.Arrays.mismatch(held, next);
        if (common != 0) {
            try {
                SessionPool.Session f = pool.forkPrefix(old, common < 0 ? Math.min(held.length, next.length) : common, next);
                pool.close(old);
                return f;
            } catch (CapacityException e) {
                // no free slot or room for the copy beside the old session: decode afresh below
            }
        }
        pool.close(old);
        return pool.open(next);
    }

    /** The tokens of a RELEASED session's context (null for other sessions). */
    public int[] contextTokens(RouterSession s) {
        synchronized (s) {
            return s.tokens == null ? null : s.tokens.clone();
        }
    }

    /** Appends tokens as they are (no delimiter). */
    public void appendTokens(RouterSession s, int[] tokens) {
        requireOpen();
        pool.append(s.session, tokens);
    }

    /** A new session with the same context (KV cells shared). */
    public RouterSession fork(RouterSession s) {
        requireOpen();
        return new RouterSession(pool.fork(s.session));
    }

    /** Blocks until the session's glimpse is decided (batched with other callers'). */
    public Decision glimpse(RouterSession s) {
        try {
            return glimpseAsync(s).join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
    }

    /**
     * Queues a glimpse.
     *
     * @throws CapacityException when the queue is full
     */
    public CompletableFuture<Decision> glimpseAsync(RouterSession s) {
        requireOpen();
        if (s.isClosed()) {
            throw new ClosedException("session " + s.id() + " is closed");
        }
        CompletableFuture<Decision> f = new CompletableFuture<>();
        // A lone caller decodes on its own thread: nobody to batch with, so no hand-off to the
        // dispatcher and no wait. As soon as glimpses overlap (a decode running, or any waiting
        // for the dispatcher) callers queue up and the dispatcher batches them.
        if (queued.get() == 0 && decoding.tryLock()) {
            try {
                run(List.of(new Request(s, f, System.nanoTime())));
            } finally {
                decoding.unlock();
            }
            return f;
        }
        queued.incrementAndGet();
        if (!queue.offer(new Request(s, f, System.nanoTime()))) {
            queued.decrementAndGet();
            throw new CapacityException(13, "the router has " + queue.size() + " glimpses waiting, its limit; retry later");
        }
        if (closed) {
            f.completeExceptionally(new ClosedException("the router is closed"));
        }
        return f;
    }

    /** A one-shot glimpse of a whole context (text, tokenized at once): a session opened and closed around it. */
    public Decision glimpseContext(String context) {
        return glimpseContext(model.tokenize(context, true, true));
    }

    /** The same for tokens; it may use the {@linkplain Builder#oneShotReserve one-shot reserve}. */
    public Decision glimpseContext(int[] tokens) {
        requireOpen();
        try (RouterSession s = new RouterSession(pool.open(tokens, true))) {
            return glimpse(s);
        }
    }

    /**
     * Picks τ so that about {@code largeFraction} of the sample contexts would go to the large model
     * under this router's entropy mode.
     */
    public Calibration calibrate(List<String> contexts, double largeFraction) {
        double[] e = new double[contexts.size()];
        for (int i = 0; i < e.length; i += Math.max(1, pool.options().maxSequences() / 2)) {
            int end = Math.min(e.length, i + Math.max(1, pool.options().maxSequences() / 2));
            List<RouterSession> open = new ArrayList<>();
            try {
                for (int j = i; j < end; j++) {
                    open.add(open(contexts.get(j)));
                }
                List<CompletableFuture<Decision>> fs = open.stream().map(this::glimpseAsync).toList();
                for (int j = i; j < end; j++) {
                    e[j] = fs.get(j - i).join().entropy();
                }
            } finally {
                open.forEach(RouterSession::close);
            }
        }
        return Calibration.of(e, largeFraction);
    }

    /** Most sessions open at once (the builder's maxSessions). */
    public int maxSessions() {
        return pool.options().maxSequences();
    }

    /** Open sessions. */
    public int openSessions() {
        return pool.openCount();
    }

    private void dispatch() {
        List<Request> carry = new ArrayList<>();
        while (!closed) {
            List<Request> batch = new ArrayList<>(carry);
            carry.clear();
            try {
                if (batch.isEmpty()) {
                    Request first = queue.poll(50, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    batch.add(first);
                }
                long deadline = System.nanoTime() + maxWaitNanos;
                while (batch.size() < maxBatch) {
                    long left = deadline - System.nanoTime();
                    Request r = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
                    if (r == null) {
                        break;
                    }
                    batch.add(r);
                }
            } catch (InterruptedException e) {
                // Only close() stops the dispatcher: an interrupt from elsewhere (a pool shutting its
                // threads down, a stray Thread.interrupt) must not leave later glimpses queued for a
                // dispatcher that is gone. What was gathered so far is decoded below.
                if (closed) {
                    batch.forEach(r -> r.result.completeExceptionally(new ClosedException("the router is closed")));
                    queued.addAndGet(-batch.size());
                    break;
                }
                if (batch.isEmpty()) {
                    continue;
                }
            }
            decoding.lock();
            try {
                run(batch);
            } finally {
                decoding.unlock();
                queued.addAndGet(-batch.size());
            }
        }
        Request r;
        while ((r = queue.poll()) != null) {
            r.result.completeExceptionally(new ClosedException("the router is closed"));
        }
    }

    /** Decodes one batch; a session asked twice gets one answer; a failing batch is retried one by one. */
    private void run(List<Request> batch) {
        Map<RouterSession, List<Request>> bySession = new IdentityHashMap<>();
        List<RouterSession> sessions = new ArrayList<>();
        for (Request r : batch) {
            if (r.session.isClosed()) {
                r.result.completeExceptionally(new ClosedException("session " + r.session.id() + " is closed"));
                continue;
            }
            bySession.computeIfAbsent(r.session, k -> {
                sessions.add(k);
                return new ArrayList<>();
            }).add(r);
        }
        if (sessions.isEmpty()) {
            return;
        }
        try {
            long t0 = System.nanoTime();
            List<Glimpse> glimpses = pool.glimpse(sessions.stream().map(s -> s.session).toList());
            long t1 = System.nanoTime();
            listener.onBatch(sessions.size(), t1 - t0);
            for (int i = 0; i < sessions.size(); i++) {
                Decision d = decide(glimpses.get(i));
                for (Request r : bySession.get(sessions.get(i))) {
                    listener.onGlimpse(d, t1 - r.enqueued);
                    r.result.complete(d);
                }
            }
        } catch (PanscoreException e) {
            if (sessions.size() == 1) {
                bySession.get(sessions.getFirst()).forEach(r -> r.result.completeExceptionally(e));
            } else {
                for (RouterSession s : sessions) { // isolate the failing session(s)
                    run(bySession.get(s));
                }
            }
        } catch (Throwable e) { // a listener's Error, OutOfMemoryError: answer every caller, keep the dispatcher alive
            batch.forEach(r -> r.result.completeExceptionally(e));
        }
    }

    private Decision decide(Glimpse g) {
        double h = mode == EntropyMode.EXACT ? g.entropy() : g.topKEntropy();
        return new Decision(h >= threshold ? Decision.Route.LARGE : Decision.Route.SMALL, h, g.entropy(), g.topKEntropy(), threshold, mode,
                g.token(), model.tokenText(g.token()), g.logprob());
    }

    private void requireOpen() {
        if (closed) {
            throw new ClosedException("the router is closed");
        }
    }

    // ---- for RoutingLoop (same package) -------------------------------------------------------

    /** The pool the sessions live in (the routing loop generates SMALL steps on it). */
    SessionPool pool() {
        return pool;
    }

    /** Tokens the small model decoded so far (glimpses and the routing loop's SMALL steps, re-decodes included): for benchmarks. */
    public long decodedTokens() {
        return pool.decodedTokens();
    }

    /** A router session's pool session. */
    SessionPool.Session poolSession(RouterSession s) {
        return s.session;
    }

    /**
     * Accepts a step the small model generated in the session itself: its tokens are already in
     * the session (the last one pending), so nothing is decoded again. A session opened on text
     * gets the delimiter appended when the generation did not end with it; a RELEASED session
     * re-renders its context and appends what the released tokenization adds beyond the generated
     * tokens (or, when that tokenization does not extend them, decodes only what follows the
     * common prefix).
     */
    void acceptGenerated(RouterSession s, String step, int[] generated, boolean endedWithDelimiter) {
        requireOpen();
        if (s.messages == null) {
            if (!endedWithDelimiter) {
                pool.append(s.session, model.tokenize(delimiter, false, false));
            }
            return;
        }
        synchronized (s) {
            int[] held = java.util.Arrays.copyOf(s.tokens, s.tokens.length + generated.length);
            System.arraycopy(generated, 0, held, s.tokens.length, generated.length);
            advanceReleased(s, held, step);
        }
    }

    /** Whether the session was opened on chat messages with the RELEASED probe context. */
    boolean isReleased(RouterSession s) {
        return s.messages != null;
    }

    /** A whole context's tokens, tokenized at once (special tokens parsed, no second BOS). */
    static int[] tokenizeWhole(Model model, String text) {
        int bos = model.info().bos();
        boolean hasBos = bos >= 0 && !text.isEmpty() && text.startsWith(model.tokenText(bos));
        return model.tokenize(text, !hasBos, true);
    }

    PromptTemplate template() {
        return template;
    }

    /** Stops the dispatcher (waiting glimpses fail with ClosedException), frees all sessions. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            dispatcher.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.close();
        if (ownsModel) {
            model.close();
        }
    }
}
