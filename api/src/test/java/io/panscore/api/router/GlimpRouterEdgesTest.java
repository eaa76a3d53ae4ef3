package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.api.Independent;
import io.panscore.api.SharedModels;
import io.panscore.kernel.CapacityException;
import io.panscore.kernel.ClosedException;
import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ReferenceKernel;
import io.panscore.kernel.fixture.Fixtures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The router's edges that its other tests do not reach (issue 16, PIT survivors of api.router):
 * a refused build frees what it made, the one-shot reserve in tokens alone, the queue-capacity
 * guard, the dispatcher's batches as a listener sees them, calibration against the float64
 * reference, close's thread and model handling, and the no-second-BOS rule on a model that has a
 * BOS token (stories260K). Expected values are hand-worked or from {@link ReferenceKernel}.
 */
class GlimpRouterEdgesTest {

    static Model model;
    static Engine scratch;

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.tiny());
        scratch = model.newEngine(EngineOptions.defaults().withContextSize(1024));
    }

    @AfterAll
    static void free() {
        scratch.close();
        model.close();
    }

    /** A model of this test's own: closing it fails while any engine on it (a router's pool) is open. */
    @Test
    void aRefusedBuildFreesItsPool() {
        Model own = Model.load(Fixtures.tiny());
        try {
            // reserve: slots must stay below maxSessions (2), tokens below the context (256)
            IllegalArgumentException slots = assertThrows(IllegalArgumentException.class,
                    () -> GlimpRouter.builder(own).maxSessions(2).contextSize(256).oneShotReserve(2, 0).build());
            assertTrue(slots.getMessage().contains("reserve"), slots.getMessage());
            IllegalArgumentException tokens = assertThrows(IllegalArgumentException.class,
                    () -> GlimpRouter.builder(own).maxSessions(2).contextSize(256).oneShotReserve(0, 256).build());
            assertTrue(tokens.getMessage().contains("reserve"), tokens.getMessage());
            // the default queue holds 4 x maxBatch glimpses: refused (with its reason) when that overflows an int
            IllegalArgumentException queue = assertThrows(IllegalArgumentException.class,
                    () -> GlimpRouter.builder(own).maxSessions(2).contextSize(256).maxBatch(Integer.MAX_VALUE / 4 + 1).build());
            assertTrue(queue.getMessage().contains("maxBatch is too large"), queue.getMessage());
            // with a queue capacity of its own the same maxBatch is fine
            try (GlimpRouter r = GlimpRouter.builder(own).maxSessions(2).contextSize(256).maxBatch(Integer.MAX_VALUE / 4 + 1).queueCapacity(8).build();
                    GlimpRouter.RouterSession s = r.open("a prompt")) {
                assertEquals(r.glimpse(s).token(), r.glimpse(s).token());
            }
        } finally {
            own.close(); // throws if one of the refused routers left its engine open
        }
        assertTrue(own.isClosed());
    }

    /** A reserve of KV cells alone (no slots): long-lived sessions may not eat into it, a one-shot glimpse may. */
    @Test
    void aReserveOfTokensAlone() {
        int[] ninety = new int[90];
        Arrays.fill(ninety, 5);
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(4).contextSize(256).oneShotReserve(0, 200).build()) {
            // 256 cells, 200 reserved: a session of 90 tokens does not fit beside the reserve
            CapacityException e = assertThrows(CapacityException.class, () -> router.open(ninety));
            assertTrue(e.getMessage().contains("one-shot"), e.getMessage());
            assertEquals(0, router.openSessions());
            Decision d = router.glimpseContext(ninety); // a one-shot glimpse may use the reserve
            assertEquals(referenceTopK(ninety), d.topKEntropy(), 1e-4);
            assertEquals(0, router.openSessions(), "the one-shot session is closed again");
        }
    }

    /**
     * The dispatcher gathers up to maxBatch glimpses (a session asked twice counts twice in the
     * batch but is decoded once), waiting for them while a decode runs. A listener that holds the
     * first (lone) decode makes the batches deterministic: 6 queued requests with maxBatch 3 are
     * two batches of 3 requests: {s1, s2, s2} (2 sessions) and {s3, s4, s5} (3 sessions).
     */
    @Test
    void theDispatcherBatchesUpToMaxBatchAndReportsTimes() throws Exception {
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        List<Decision> seen = Collections.synchronizedList(new ArrayList<>());
        HoldFirstBatch listener = new HoldFirstBatch() {
            @Override
            public void onGlimpse(Decision d, long nanos) {
                latencies.add(nanos);
                seen.add(d);
            }
        };
        long start = System.nanoTime();
        // maxWait is long: every batch below fills up, so the dispatcher never waits it out
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(6).maxBatch(3).maxWait(Duration.ofSeconds(30)).contextSize(2048)
                .listener(listener).build()) {
            List<GlimpRouter.RouterSession> s = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                s.add(router.open("Session " + i + " counts to " + (i + 3) + "."));
            }
            CompletableFuture<Decision> lone = CompletableFuture.supplyAsync(() -> router.glimpse(s.get(0)));
            assertTrue(listener.entered.await(60, TimeUnit.SECONDS), "the lone glimpse reached the listener");
            List<CompletableFuture<Decision>> f = new ArrayList<>();
            f.add(router.glimpseAsync(s.get(1)));
            Thread.sleep(200); // the dispatcher has taken s1 and waits for more (without the wait it would decode s1 alone)
            f.add(router.glimpseAsync(s.get(2)));
            f.add(router.glimpseAsync(s.get(2)));
            f.add(router.glimpseAsync(s.get(3)));
            f.add(router.glimpseAsync(s.get(4)));
            f.add(router.glimpseAsync(s.get(5)));
            listener.release.countDown();
            List<Decision> got = new ArrayList<>();
            got.add(lone.get(60, TimeUnit.SECONDS));
            for (CompletableFuture<Decision> x : f) {
                got.add(x.get(60, TimeUnit.SECONDS));
            }
            long elapsed = System.nanoTime() - start;
            assertEquals(List.of(1, 2, 3), listener.batches, "glimpses decoded per batch");
            assertEquals(7, latencies.size(), "one onGlimpse per request, the repeated session's included");
            assertEquals(got.get(2), got.get(3), "a session asked twice in a batch gets one answer");
            for (long n : latencies) {
                assertTrue(n >= 0 && n <= elapsed, "latency " + n + " ns within the test's " + elapsed + " ns");
            }
            for (long n : listener.decodeNanos) {
                assertTrue(n >= 0 && n <= elapsed, "decode time " + n + " ns within the test's " + elapsed + " ns");
            }
            // each answer is the reference's for its session's prompt
            for (int i = 0; i < 6; i++) {
                int[] ctx = model.tokenize("Session " + i + " counts to " + (i + 3) + ".", true, true);
                Decision d = got.get(i <= 2 ? i : i + 1);
                assertEquals(referenceTopK(ctx), d.topKEntropy(), 1e-4, "session " + i);
                assertTrue(seen.contains(d));
            }
        }
    }

    /** Closed sessions in a queued batch fail with ClosedException; a batch of closed sessions only decodes nothing. */
    @Test
    void closedSessionsInAQueuedBatchFail() throws Exception {
        HoldFirstBatch listener = new HoldFirstBatch();
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(4).maxBatch(2).maxWait(Duration.ofSeconds(30)).contextSize(1024)
                .listener(listener).build()) {
            GlimpRouter.RouterSession a = router.open("first session");
            GlimpRouter.RouterSession b = router.open("second session");
            GlimpRouter.RouterSession c = router.open("third session");
            CompletableFuture<Decision> lone = CompletableFuture.supplyAsync(() -> router.glimpse(a));
            assertTrue(listener.entered.await(60, TimeUnit.SECONDS));
            CompletableFuture<Decision> fb = router.glimpseAsync(b);
            CompletableFuture<Decision> fb2 = router.glimpseAsync(b);
            CompletableFuture<Decision> fc = router.glimpseAsync(c);
            CompletableFuture<Decision> fa = router.glimpseAsync(a);
            b.close(); // both of b's requests are in the first queued batch, closed before it decodes
            listener.release.countDown();
            lone.get(60, TimeUnit.SECONDS);
            for (CompletableFuture<Decision> x : List.of(fb, fb2)) {
                CompletionException e = assertThrows(CompletionException.class, x::join);
                assertTrue(e.getCause() instanceof ClosedException && e.getCause().getMessage().contains("session " + b.id() + " is closed"),
                        String.valueOf(e.getCause()));
            }
            assertEquals(referenceTopK(model.tokenize("third session", true, true)), fc.get(60, TimeUnit.SECONDS).topKEntropy(), 1e-4);
            assertEquals(referenceTopK(model.tokenize("first session", true, true)), fa.get(60, TimeUnit.SECONDS).topKEntropy(), 1e-4);
            // the lone decode, then {b, b} (nothing to decode: no onBatch), then {c, a}
            assertEquals(List.of(1, 2), listener.batches);
        }
    }

    /**
     * calibrate opens the samples maxSessions / 2 at a time (here 2 of 5, then 2, then 1) and
     * returns their entropies: each equal to the reference's for its text, τ the hand-picked
     * quantile of those.
     */
    @Test
    void calibrationEntropiesAreTheReferences() {
        List<String> texts = List.of("one", "two words", "three little words", "and four words here", "five");
        double[] want = new double[texts.size()];
        for (int i = 0; i < want.length; i++) {
            want[i] = referenceTopK(model.tokenize(texts.get(i), true, true));
        }
        Arrays.sort(want);
        for (int sessions : new int[] {1, 4, 16}) {
            try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(sessions).contextSize(1024).build()) {
                Calibration c = router.calibrate(texts, 0.4);
                assertEquals(want.length, c.entropies().length);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], c.entropies()[i], 1e-4, sessions + " sessions, sample " + i);
                }
                assertEquals(want[3], c.threshold(), 1e-4, "2 of 5 large: tau is the 4th smallest");
                assertEquals(0, router.openSessions(), "every sample session is closed");
            }
        }
    }

    /** close(): stops the dispatcher before returning, keeps a caller's interrupt, closes a model only if it loaded it. */
    @Test
    void closeStopsTheDispatcherAndKeepsTheInterrupt() {
        Set<Thread> before = dispatchers();
        GlimpRouter router = GlimpRouter.builder(model).contextSize(256).build();
        Set<Thread> mine = dispatchers();
        mine.removeAll(before);
        assertEquals(1, mine.size(), "one dispatcher thread per router");
        Thread.currentThread().interrupt();
        router.close();
        assertTrue(Thread.interrupted(), "close keeps the caller's interrupt status");
        router.close(); // idempotent
        assertFalse(model.isClosed(), "a caller's model stays open");
        assertTrue(model.tokenize("a b c d", true, true).length > 0, "and usable");

        GlimpRouter own = GlimpRouter.builder(Fixtures.tiny()).contextSize(256).build();
        Set<Thread> ownThreads = dispatchers();
        ownThreads.removeAll(before);
        ownThreads.removeAll(mine);
        own.close();
        assertTrue(own.model().isClosed(), "a model the router loaded is closed with it");
        for (Thread t : ownThreads) {
            assertFalse(t.isAlive(), "the dispatcher has stopped when close returns");
        }
        for (Thread t : mine) {
            try {
                t.join(60_000);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            assertFalse(t.isAlive());
        }
    }

    /**
     * close() while glimpses wait: the batch the dispatcher had gathered is still decoded, what is
     * left in the queue fails with ClosedException, and nothing is accepted afterwards.
     */
    @Test
    void closeAnswersEveryQueuedGlimpse() throws Exception {
        HoldFirstBatch listener = new HoldFirstBatch();
        GlimpRouter router = GlimpRouter.builder(model).maxSessions(4).maxBatch(1).maxWait(Duration.ofSeconds(30)).contextSize(1024).listener(listener).build();
        try {
            GlimpRouter.RouterSession a = router.open("first session");
            GlimpRouter.RouterSession b = router.open("second session");
            GlimpRouter.RouterSession c = router.open("third session");
            CompletableFuture<Decision> lone = CompletableFuture.supplyAsync(() -> router.glimpse(a));
            assertTrue(listener.entered.await(60, TimeUnit.SECONDS));
            CompletableFuture<Decision> fb = router.glimpseAsync(b);
            Thread.sleep(200); // the dispatcher takes b (maxBatch 1) and waits for the decode lock
            CompletableFuture<Decision> fc = router.glimpseAsync(c); // stays queued
            Thread closer = Thread.ofPlatform().start(router::close);
            while (closer.isAlive() && closer.getState() != Thread.State.TIMED_WAITING) {
                Thread.sleep(5); // close() has marked the router closed and waits for the dispatcher
            }
            listener.release.countDown();
            closer.join();
            assertEquals(referenceTopK(model.tokenize("first session", true, true)), lone.get(60, TimeUnit.SECONDS).topKEntropy(), 1e-4);
            assertEquals(referenceTopK(model.tokenize("second session", true, true)), fb.get(60, TimeUnit.SECONDS).topKEntropy(), 1e-4);
            CompletionException e = assertThrows(CompletionException.class, () -> fc.orTimeout(60, TimeUnit.SECONDS).join());
            assertTrue(e.getCause() instanceof ClosedException && e.getCause().getMessage().equals("the router is closed"), String.valueOf(e.getCause()));
            assertThrows(ClosedException.class, () -> router.glimpseAsync(a));
        } finally {
            listener.release.countDown();
            router.close();
        }
    }

    /** After close() every call that needs the router says so (not a later failure of its pool). */
    @Test
    void aClosedRouterRefusesEveryCall() {
        GlimpRouter router = GlimpRouter.builder(model).maxSessions(2).contextSize(256).build();
        GlimpRouter.RouterSession s = router.open("a prompt");
        router.close();
        List<org.junit.jupiter.api.function.Executable> calls = List.of(() -> router.open(List.of(new io.panscore.kernel.ChatMessage("user", "hi"))),
                () -> router.open("text"), () -> router.open(new int[] {1, 2}), () -> router.append(s, "step"), () -> router.appendTokens(s, new int[] {3}),
                () -> router.fork(s), () -> router.glimpseContext(new int[] {1, 2}), () -> router.glimpseAsync(s),
                () -> router.acceptGenerated(s, "x", new int[] {4}, false));
        List<String> got = new ArrayList<>();
        for (org.junit.jupiter.api.function.Executable call : calls) {
            try {
                call.execute();
                got.add("no exception");
            } catch (Throwable e) {
                got.add(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        assertEquals(Collections.nCopies(calls.size(), "ClosedException: the router is closed"), got);
    }

    /** A step goes large when its entropy is at least τ: τ equal to the glimpse's own entropy gives LARGE, the next double above it SMALL. */
    @Test
    void anEntropyEqualToTauGoesLarge() {
        String prompt = "Count: one, two";
        double h;
        try (GlimpRouter r = GlimpRouter.builder(model).contextSize(256).build(); GlimpRouter.RouterSession s = r.open(prompt)) {
            h = r.glimpse(s).entropy();
        }
        for (double tau : new double[] {h, Math.nextUp(h)}) {
            try (GlimpRouter r = GlimpRouter.builder(model).threshold(tau).contextSize(256).build(); GlimpRouter.RouterSession s = r.open(prompt)) {
                Decision d = r.glimpse(s);
                assertEquals(h, d.entropy(), 0);
                assertEquals(tau == h ? Decision.Route.LARGE : Decision.Route.SMALL, d.route(), "tau " + tau + ", entropy " + h);
            }
        }
    }

    /**
     * The no-second-BOS rule of a whole context's tokenization, on a model that has a BOS token
     * (stories260K: SentencePiece, {@code <s>} is id 1): text that starts with the BOS text gets no
     * second one; other text gets one added.
     */
    @Test
    void wholeContextsGetExactlyOneBos() {
        try (Model stories = Model.load(SharedModels.stories260K())) {
            assertEquals(1, stories.info().bos(), "llama SentencePiece vocabulary: <unk> 0, <s> 1, </s> 2");
            assertEquals("<s>", stories.tokenText(1));
            int[] plain = stories.tokenize("Once upon a time", false, false);
            int[] want = new int[plain.length + 1];
            want[0] = 1;
            System.arraycopy(plain, 0, want, 1, plain.length);
            assertArrayEquals(want, GlimpRouter.tokenizeWhole(stories, "Once upon a time"), "BOS added");
            assertArrayEquals(want, GlimpRouter.tokenizeWhole(stories, "<s>Once upon a time"), "the written <s> is the only BOS");
            assertArrayEquals(new int[] {1}, GlimpRouter.tokenizeWhole(stories, "<s>"));
            int[] inside = GlimpRouter.tokenizeWhole(stories, "Once <s>");
            assertEquals(1, inside[0], "text not starting with <s> gets a BOS added");
            assertEquals(2, Arrays.stream(inside).filter(t -> t == 1).count(), "and keeps the <s> it contains");
        }
    }

    private static Set<Thread> dispatchers() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("panscore-glimpse-dispatcher") && t.isAlive())
                .collect(Collectors.toSet());
    }

    /** The float64 reference top-20 renormalised entropy after a context. */
    static double referenceTopK(int[] context) {
        ReferenceKernel.Stats ref = Independent.next(scratch, context, GlimpRouter.TOP_K);
        return Independent.renormalisedEntropy(ref.topLogprobs());
    }
}
