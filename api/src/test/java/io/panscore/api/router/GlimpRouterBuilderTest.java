package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.CapacityException;
import io.panscore.kernel.ChatMessage;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ModelOptions;
import io.panscore.kernel.fixture.FixtureSpec;
import io.panscore.kernel.fixture.Fixtures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The builder's settings, each seen in what the router does (getters, refusals with their
 * messages, the probe context, the queue's limit), and where the listener runs: a lone glimpse
 * on its caller's thread, overlapping ones on the dispatcher's. Expected values by hand.
 */
class GlimpRouterBuilderTest {

    static Model chat;

    @BeforeAll
    static void load() {
        chat = Model.load(Fixtures.model(FixtureSpec.tinyQwen2Small(), RoutingLoopTest.CHATML));
    }

    @AfterAll
    static void free() {
        chat.close();
    }

    @Test
    void refusedSettingsSayWhich() {
        GlimpRouter.Builder b = GlimpRouter.builder(chat);
        assertEquals("maxSessions must be > 0, got 0", assertThrows(IllegalArgumentException.class, () -> b.maxSessions(0)).getMessage());
        assertEquals("contextSize must be > 0, got 0", assertThrows(IllegalArgumentException.class, () -> b.contextSize(0)).getMessage());
        assertEquals("batchSize must be > 0, got 0", assertThrows(IllegalArgumentException.class, () -> b.batchSize(0)).getMessage());
        assertEquals("maxBatch must be > 0, got -1", assertThrows(IllegalArgumentException.class, () -> b.maxBatch(-1)).getMessage());
        assertEquals("queueCapacity must be > 0, got 0", assertThrows(IllegalArgumentException.class, () -> b.queueCapacity(0)).getMessage());
        assertEquals("threshold must be finite, got NaN", assertThrows(IllegalArgumentException.class, () -> b.threshold(Double.NaN)).getMessage());
        assertEquals("threshold must be finite, got Infinity",
                assertThrows(IllegalArgumentException.class, () -> b.threshold(Double.POSITIVE_INFINITY)).getMessage());
        assertEquals("the reserve must be >= 0, got -1 slots, 0 tokens", assertThrows(IllegalArgumentException.class, () -> b.oneShotReserve(-1, 0)).getMessage());
        assertEquals("the reserve must be >= 0, got 0 slots, -1 tokens", assertThrows(IllegalArgumentException.class, () -> b.oneShotReserve(0, -1)).getMessage());
        assertThrows(NullPointerException.class, () -> GlimpRouter.builder((Model) null));
        assertThrows(NullPointerException.class, () -> GlimpRouter.builder((java.nio.file.Path) null));
        // the smallest legal values are taken
        try (GlimpRouter r = b.maxSessions(1).contextSize(64).batchSize(1).maxBatch(1).queueCapacity(1).threshold(-2.5).build()) {
            assertEquals(1, r.maxSessions());
            assertEquals(-2.5, r.threshold());
            assertSame(chat, r.model());
        }
    }

    /** Every setter returns the builder, and each setting shows: mode, τ, probe context, sessions, threads and batches. */
    @Test
    void settingsShowInTheRouter() {
        io.panscore.api.trajectory.PromptTemplate chatml = io.panscore.api.trajectory.PromptTemplate.named("chatml");
        try (GlimpRouter r = GlimpRouter.builder(chat).threshold(0.25).entropyMode(EntropyMode.EXACT).probeContext(ProbeContext.PIECEWISE).delimiter(" | ")
                .maxSessions(3).contextSize(512).batchSize(16).threads(1).maxBatch(2).maxWait(Duration.ZERO).queueCapacity(4)
                .modelOptions(ModelOptions.defaults()).kvCache(EngineOptions.KvCache.UNIFIED).listener(new GlimpRouter.Listener() {})
                .template(chatml).oneShotReserve(0, 0).build()) {
            assertSame(chatml, r.template());
            assertEquals(0.25, r.threshold());
            assertEquals(EntropyMode.EXACT, r.entropyMode());
            assertEquals(ProbeContext.PIECEWISE, r.probeContext());
            assertEquals(3, r.maxSessions());
            List<ChatMessage> problem = List.of(new ChatMessage("user", "Hi"));
            try (GlimpRouter.RouterSession s = r.open(problem)) {
                // PIECEWISE: the rendered prompt opened as text, steps appended with the delimiter; no released context
                assertNull(r.contextTokens(s));
                String prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
                assertEquals(chat.tokenize(prompt, true, true).length, s.length());
                r.append(s, "one");
                assertEquals(chat.tokenize(prompt, true, true).length + chat.tokenize("one | ", false, false).length, s.length());
                assertEquals(List.of(), s.steps());
                Decision d = r.glimpse(s);
                assertEquals(EntropyMode.EXACT, d.mode());
                assertEquals(d.exactEntropy(), d.entropy());
            }
        }
        try (GlimpRouter r = GlimpRouter.builder(chat).contextSize(512).build()) {
            assertEquals(1.0, r.threshold(), "the authors' tau");
            assertEquals(EntropyMode.TOP_K, r.entropyMode());
            assertEquals(ProbeContext.RELEASED, r.probeContext());
            assertEquals(16, r.maxSessions());
        }
    }

    /**
     * Where decodes run, and the queue's limit: with queueCapacity 1 and maxBatch 1, while a lone
     * decode is held the dispatcher takes one glimpse (and waits for the decode lock), one more
     * waits in the queue, the next is refused. Once all are answered a glimpse is lone again, on
     * the caller's thread.
     */
    @Test
    void theQueueLimitAndWhoDecodes() throws Exception {
        HoldFirstBatch listener = new HoldFirstBatch();
        String name = Thread.currentThread().getName();
        try (GlimpRouter r = GlimpRouter.builder(chat).maxSessions(4).contextSize(512).maxBatch(1).queueCapacity(1).maxWait(Duration.ofSeconds(30))
                .listener(listener).build()) {
            List<GlimpRouter.RouterSession> s = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                s.add(r.open(List.of(new ChatMessage("user", "Question " + i))));
            }
            Thread.currentThread().setName("glimpse-caller");
            CompletableFuture<Decision> lone = CompletableFuture.supplyAsync(() -> r.glimpse(s.get(0)));
            assertTrue(listener.entered.await(60, TimeUnit.SECONDS));
            CompletableFuture<Decision> taken = r.glimpseAsync(s.get(1));
            Thread.sleep(200); // the dispatcher takes it off the queue (maxBatch 1: it then waits for the decode lock)
            CompletableFuture<Decision> waiting = r.glimpseAsync(s.get(2));
            CapacityException e = assertThrows(CapacityException.class, () -> r.glimpseAsync(s.get(3)));
            assertEquals("the router has 1 glimpses waiting, its limit; retry later", e.getMessage());
            listener.release.countDown();
            lone.get(60, TimeUnit.SECONDS);
            taken.get(60, TimeUnit.SECONDS);
            waiting.get(60, TimeUnit.SECONDS);
            assertEquals(List.of("panscore-glimpse-dispatcher", "panscore-glimpse-dispatcher"), listener.threads.subList(1, 3));
            // once the dispatcher has counted its batches as answered (just after the callers hear
            // back), nothing is queued and no decode runs: a glimpse is decoded on its caller's thread
            int tries = 0;
            do {
                r.glimpse(s.get(3));
                tries++;
                if (!listener.threads.getLast().equals("glimpse-caller")) {
                    Thread.sleep(10);
                }
            } while (!listener.threads.getLast().equals("glimpse-caller") && tries < 3000);
            assertEquals("glimpse-caller", listener.threads.getLast(), "after " + tries + " glimpses");
        } finally {
            Thread.currentThread().setName(name);
        }
    }

    /** A listener's Error reaches the caller (wrapped, as it is no RuntimeException) and the router goes on. */
    @Test
    void aListenersErrorReachesTheCaller() {
        AtomicBoolean fail = new AtomicBoolean(true);
        GlimpRouter.Listener listener = new GlimpRouter.Listener() {
            @Override
            public void onBatch(int glimpses, long nanos) {
                if (fail.getAndSet(false)) {
                    throw new StackOverflowError("listener broke");
                }
            }
        };
        try (GlimpRouter r = GlimpRouter.builder(chat).maxSessions(2).contextSize(512).listener(listener).build();
                GlimpRouter.RouterSession s = r.open("a prompt")) {
            CompletionException e = assertThrows(CompletionException.class, () -> r.glimpse(s));
            assertTrue(e.getCause() instanceof StackOverflowError && e.getCause().getMessage().equals("listener broke"), String.valueOf(e.getCause()));
            assertEquals(r.glimpse(s).token(), r.glimpse(s).token(), "the router still answers");
        }
    }
}
