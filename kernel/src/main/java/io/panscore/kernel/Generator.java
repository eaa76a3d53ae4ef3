package io.panscore.kernel;

import io.panscore.bindings.panscore_h;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Generates text on the sessions of a {@link SessionPool}: each step decodes the newest token of
 * every active generation in one batch ({@code ps_session_sample}: one llama.cpp decode per step for
 * all of them, continuous batching over the pool's slots), picks each one's next token with its own
 * sampler, and carries that token's statistics (log-prob, rank, entropy, argmax, top-k) from the
 * same fused reduction that scoring uses. Requests submitted while others run join at the next step.
 *
 * <p>A generation continues its session: the prompt is what the session holds (its pending tokens
 * are decoded in the first step; a session with nothing pending re-decodes its last token), and
 * every sampled token is appended to it, the last one pending. Do not append to, glimpse or close
 * a session while it generates (closing fails the generation with a {@link ClosedException}).
 *
 * <p>Thread-safety: {@link #submit}, {@link #generate}, {@link Handle#cancel} and {@link #close} may
 * be called from any thread. All decoding runs on the generator's own thread, which also calls the
 * {@link TokenListener}s: a listener must return quickly (hand slow work such as network writes to
 * another thread), since every generation waits for it. The pool stays usable by others between
 * steps (its methods are serialized on it). The generator does not own the pool.
 */
public final class Generator implements AutoCloseable {

    /** Receives each generated token as soon as it is sampled, with the text it adds. */
    @FunctionalInterface
    public interface TokenListener {
        /**
         * @param token     the token and its statistics
         * @param textDelta the text that became final with this token: empty while a multi-byte
         *                  character is incomplete or the text might be the start of a stop string
         *                  (it is then delivered with a later token, or dropped when it turns out to
         *                  be the stop string); the deltas of a generation concatenate to its text
         */
        void onToken(GeneratedToken token, String textDelta);
    }

    /** A submitted generation. */
    public static final class Handle {
        private final CompletableFuture<Generation> result = new CompletableFuture<>();
        private volatile boolean cancelled;

        private Handle() {}

        /** Ends the generation at the next step, with {@link Generation.FinishReason#CANCELLED}; idempotent. */
        public void cancel() {
            cancelled = true;
        }

        public boolean isDone() {
            return result.isDone();
        }

        /** A view of the result (completing or cancelling it does not affect the generation). */
        public CompletableFuture<Generation> future() {
            return result.copy();
        }

        /**
         * Waits for the result. An interrupt cancels the generation and returns what was generated
         * (the thread's interrupt flag is set again).
         *
         * @throws PanscoreException what made the generation fail (e.g. {@link CapacityException})
         */
        public Generation await() {
            boolean interrupted = false;
            try {
                while (true) {
                    try {
                        return result.get();
                    } catch (InterruptedException e) {
                        interrupted = true;
                        cancel();
                    } catch (ExecutionException e) {
                        if (e.getCause() instanceof RuntimeException r) {
                            throw r;
                        }
                        throw new PanscoreException(0, "generation failed: " + e.getCause(), e.getCause());
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** One generation in flight, touched only by the generator's thread (after submission). */
    private static final class Active {
        final SessionPool.Session session;
        final GenerateOptions options;
        final TokenListener listener;
        final Handle handle;
        final MemorySegment sampler;   // ps_sampler *, NULL for greedy
        final List<GeneratedToken> tokens = new ArrayList<>();
        final StringBuilder text = new StringBuilder();             // decoded complete characters
        final ByteArrayOutputStream partial = new ByteArrayOutputStream(); // an incomplete UTF-8 tail
        int emitted;                   // chars of text already delivered to the listener

        Active(SessionPool.Session session, GenerateOptions options, TokenListener listener, Handle handle, MemorySegment sampler) {
            this.session = session;
            this.options = options;
            this.listener = listener;
            this.handle = handle;
            this.sampler = sampler;
        }
    }

    private static final Active SHUTDOWN = new Active(null, null, null, null, MemorySegment.NULL);

    private final SessionPool pool;
    private final int contextSize;
    private final byte[][] pieces;     // token piece cache, filled lazily by the generator's thread
    private final LinkedBlockingQueue<Active> incoming = new LinkedBlockingQueue<>();
    private final Set<SessionPool.Session> busy = ConcurrentHashMap.newKeySet();
    private final Thread thread;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicLong steps = new java.util.concurrent.atomic.AtomicLong();

    /** Starts a generator (and its thread) on a pool; the pool must outlive it. */
    public Generator(SessionPool pool) {
        this.pool = pool;
        this.contextSize = pool.options().sequenceContextSize(); // what one session may hold
        this.pieces = new byte[pool.model().info().vocabSize()][];
        this.thread = Thread.ofPlatform().daemon().name("panscore-generator").unstarted(this::run);
        thread.start();
    }

    public SessionPool pool() {
        return pool;
    }

    /** Steps taken so far: each is one {@code ps_session_sample} call for every active generation. */
    public long steps() {
        return steps.get();
    }

    /**
     * Generates on a session and waits for the result.
     *
     * @throws ClosedException       when the session or the generator is closed
     * @throws InvalidInputException when the session is already generating
     * @throws PanscoreException     what made the generation fail
     */
    public Generation generate(SessionPool.Session session, GenerateOptions options) {
        return submit(session, options, null).await();
    }

    /**
     * Starts a generation; it joins the running ones at the next step.
     *
     * @param listener called with every token (null for none)
     * @throws ClosedException       when the session or the generator is closed
     * @throws InvalidInputException when the session is already generating
     */
    public Handle submit(SessionPool.Session session, GenerateOptions options, TokenListener listener) {
        if (session == null || options == null) {
            throw new InvalidInputException(panscore_h.PS_ERR_INVALID_ARGUMENT(), "session and options must not be null");
        }
        if (closed) {
            throw new ClosedException("the generator is closed");
        }
        if (session.isClosed()) {
            throw new ClosedException("session " + session.id() + " is closed");
        }
        if (!busy.add(session)) {
            throw new InvalidInputException(panscore_h.PS_ERR_INVALID_ARGUMENT(), "session " + session.id()
                    + " is already generating; wait for it or fork the session");
        }
        MemorySegment sampler = MemorySegment.NULL;
        try {
            if (!options.sampling().isGreedy()) {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
                    NativeCalls.check(panscore_h.ps_sampler_create(options.sampling().toNative(arena), out), "creating a sampler");
                    sampler = out.get(ValueLayout.ADDRESS, 0);
                }
            }
            Handle handle = new Handle();
            incoming.add(new Active(session, options, listener, handle, sampler));
            if (closed) { // close() may have drained the queue before this request arrived
                drainAfterClose();
            }
            return handle;
        } catch (RuntimeException e) {
            busy.remove(session);
            panscore_h.ps_sampler_free(sampler);
            throw e;
        }
    }

    /** Cancels every generation (their handles complete with what they had) and stops the thread; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        incoming.add(SHUTDOWN);
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        drainAfterClose();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void drainAfterClose() {
        if (thread.isAlive()) {
            return; // the generator's thread drains it on its way out
        }
        Active a;
        while ((a = incoming.poll()) != null) {
            if (a != SHUTDOWN) {
                finish(a, Generation.FinishReason.CANCELLED, null);
            }
        }
    }

    // ---- the generator's thread -------------------------------------------------------------

    private void run() {
        List<Active> active = new ArrayList<>();
        boolean stopping = false;
        while (!stopping) {
            try {
                if (active.isEmpty()) {
                    Active first = incoming.take();
                    if (first == SHUTDOWN) {
                        break;
                    }
                    active.add(first);
                }
                Active a;
                while ((a = incoming.poll()) != null) {
                    if (a == SHUTDOWN) {
                        stopping = true;
                    } else {
                        active.add(a);
                    }
                }
                if (stopping) {
                    break;
                }
                retire(active);
                if (!active.isEmpty()) {
                    step(active);
                }
            } catch (InterruptedException e) {
                // only close() stops this thread
            } catch (Throwable t) { // never let the thread die with generations waiting on it
                for (Active x : active) {
                    fail(x, t);
                }
                active.clear();
            }
        }
        for (Active x : active) {
            finish(x, Generation.FinishReason.CANCELLED, null);
        }
        Active a;
        while ((a = incoming.poll()) != null) {
            if (a != SHUTDOWN) {
                finish(a, Generation.FinishReason.CANCELLED, null);
            }
        }
    }

    /** Ends generations that were cancelled, whose session closed or is full, before a step. */
    private void retire(List<Active> active) {
        for (Iterator<Active> it = active.iterator(); it.hasNext(); ) {
            Active x = it.next();
            if (x.handle.cancelled) {
                finish(x, Generation.FinishReason.CANCELLED, null);
            } else if (x.session.isClosed()) {
                fail(x, new ClosedException("session " + x.session.id() + " was closed while generating"));
            } else if (x.session.length() >= contextSize) {
                finish(x, Generation.FinishReason.CONTEXT_FULL, null);
            } else {
                continue;
            }
            it.remove();
        }
    }

    private void step(List<Active> active) {
        List<SessionPool.Session> sessions = new ArrayList<>(active.size());
        List<MemorySegment> samplers = new ArrayList<>(active.size());
        int topK = 0;
        for (Active x : active) {
            sessions.add(x.session);
            samplers.add(x.sampler);
            topK = Math.max(topK, x.options.topK());
        }
        GeneratedToken[] next;
        try {
            steps.incrementAndGet();
            next = pool.sample(sessions, samplers, topK);
        } catch (PanscoreException e) {
            // Blame what can be blamed: sessions closed meanwhile; on a full KV cache, the newest
            // generation (the others go on); otherwise every generation of the step.
            boolean blamed = false;
            for (Iterator<Active> it = active.iterator(); it.hasNext(); ) {
                Active x = it.next();
                if (x.session.isClosed()) {
                    fail(x, new ClosedException("session " + x.session.id() + " was closed while generating"));
                    it.remove();
                    blamed = true;
                }
            }
            if (!blamed && e instanceof CapacityException && active.size() > 1) {
                fail(active.removeLast(), e);
                blamed = true;
            }
            if (!blamed) {
                for (Active x : active) {
                    fail(x, e);
                }
                active.clear();
            }
            return;
        }
        for (int i = 0, j = 0; i < next.length; i++) {
            Active x = active.get(j);
            if (accept(x, next[i])) {
                active.remove(j);
            } else {
                j++;
            }
        }
    }

    /** Adds one sampled token to a generation; returns true when the generation is over. */
    private boolean accept(Active x, GeneratedToken token) {
        GenerateOptions o = x.options;
        x.tokens.add(token);
        boolean eog = token.endOfGeneration() && o.stopAtEndOfGeneration();
        int before = x.text.length();
        if (!eog) {
            appendPiece(x, token.id());
        }
        Generation.FinishReason reason = null;
        String stopHit = null;
        int cut = -1;
        for (String s : o.stop()) { // a new occurrence must end in the text this token added
            int at = x.text.indexOf(s, Math.max(0, before - s.length() + 1));
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
                stopHit = s;
            }
        }
        if (stopHit != null) {
            reason = Generation.FinishReason.STOP_STRING;
        } else if (eog) {
            reason = Generation.FinishReason.END_OF_GENERATION;
        } else if (x.tokens.size() >= o.maxTokens()) {
            reason = Generation.FinishReason.MAX_TOKENS;
        } else if (x.session.length() >= contextSize) {
            reason = Generation.FinishReason.CONTEXT_FULL;
        }
        String delta;
        if (reason == null) {
            int safe = Math.max(x.emitted, x.text.length() - heldBack(x.text, o.stop()));
            delta = x.text.substring(x.emitted, safe);
            x.emitted = safe;
        } else {
            if (reason == Generation.FinishReason.STOP_STRING) {
                x.text.setLength(cut);
            } else if (x.partial.size() > 0) { // an incomplete character at the end: decoded as U+FFFD
                x.text.append(new String(x.partial.toByteArray(), StandardCharsets.UTF_8));
                x.partial.reset();
            }
            delta = x.text.length() > x.emitted ? x.text.substring(x.emitted) : "";
            x.emitted = x.text.length();
        }
        if (x.listener != null) {
            try {
                x.listener.onToken(token, delta);
            } catch (RuntimeException e) {
                fail(x, e);
                return true;
            }
        }
        if (reason != null) {
            finish(x, reason, stopHit);
            return true;
        }
        return false;
    }

    /** Appends a token's piece: complete UTF-8 characters to text, an incomplete tail to partial. */
    private void appendPiece(Active x, int token) {
        byte[] piece = pieces[token];
        if (piece == null) {
            piece = pool.model().pieceBytes(token, false);
            pieces[token] = piece;
        }
        x.partial.writeBytes(piece);
        byte[] b = x.partial.toByteArray();
        int complete = completeLength(b);
        if (complete > 0) {
            x.text.append(new String(b, 0, complete, StandardCharsets.UTF_8));
            x.partial.reset();
            x.partial.write(b, complete, b.length - complete);
        }
    }

    /** The length of the longest prefix of b that does not end inside a multi-byte UTF-8 character. */
    static int completeLength(byte[] b) {
        int n = b.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int c = b[n - back] & 0xFF;
            if ((c & 0xC0) == 0x80) {
                continue; // a continuation byte: look further back for the lead byte
            }
            int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n; // no lead byte in the last 3: invalid bytes, decoded as they are
    }

    /** How many chars at the end of text could be the start of a stop string (not yet deliverable). */
    static int heldBack(CharSequence text, List<String> stops) {
        int longest = 0;
        for (String s : stops) {
            longest = Math.max(longest, s.length() - 1);
        }
        int n = Math.min(longest, text.length());
        String tail = text.subSequence(text.length() - n, text.length()).toString();
        int held = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, n); k > held; k--) {
                if (s.regionMatches(0, tail, n - k, k)) {
                    held = k;
                    break;
                }
            }
        }
        return held;
    }

    private void finish(Active x, Generation.FinishReason reason, String stopHit) {
        release(x);
        if (x.partial.size() > 0 && reason == Generation.FinishReason.CANCELLED) {
            x.text.append(new String(x.partial.toByteArray(), StandardCharsets.UTF_8));
            x.partial.reset();
        }
        x.handle.result.complete(new Generation(x.text.toString(), x.tokens, reason, stopHit));
    }

    private void fail(Active x, Throwable t) {
        release(x);
        x.handle.result.completeExceptionally(t);
    }

    private void release(Active x) {
        panscore_h.ps_sampler_free(x.sampler);
        busy.remove(x.session);
    }
}
