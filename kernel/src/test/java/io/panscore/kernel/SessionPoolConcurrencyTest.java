package io.panscore.kernel;

import static io.panscore.kernel.NextTokenReference.assertMatches;
import static io.panscore.kernel.TestModels.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * SessionPool while a glimpse decodes on another thread (issue 18: the router's callers append their
 * next step while the batch before it runs). {@link SessionPool#append} and {@link SessionPool#open}
 * only queue tokens, so they must return while a decode is still running, and tokens appended to
 * the session being decoded must wait for its next glimpse. Calls into the engine (close, fork) still
 * wait for the decode.
 *
 * <p>How "while the decode runs" is made sure of without a timing threshold: the glimpse runs on a
 * thread of its own with a long context (thousands of tokens, 1 thread: a fraction of a second or
 * more); the test waits until that thread's stack is inside the pool's native decode, then appends
 * and checks that the glimpse is still not done when the append has returned. Before the locks were
 * split the append waited for the pool's monitor, which the glimpse held until its decode was over,
 * so this check could not pass.
 */
class SessionPoolConcurrencyTest {

    private static final int K = 4;
    private static final int LONG = 4096;

    private static int[] range(int from, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (from + 7 * i) % vocab;
        }
        return t;
    }

    private static SessionPool pool(Model model) {
        return new SessionPool(model, EngineOptions.defaults().withContextSize(2 * LONG + 256).withMaxSequences(4).withThreads(1)
                .withBatchSize(512).withMicroBatchSize(512), K);
    }

    /** Glimpses {@code s} on a thread of its own and returns once that thread is inside the native decode. */
    private static CompletableFuture<Glimpse> glimpseInBackground(SessionPool pool, SessionPool.Session s) throws InterruptedException {
        CompletableFuture<Glimpse> result = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                result.complete(pool.glimpse(List.of(s)).getFirst());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        }, "glimpse");
        t.start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!inNativeDecode(t)) {
            assertTrue(t.isAlive() && System.nanoTime() < until, "the glimpse never reached its decode (finished: " + result.isDone() + ")");
            Thread.sleep(1);
        }
        return result;
    }

    private static boolean inNativeDecode(Thread t) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getMethodName().equals("ps_session_decode")) {
                return true;
            }
        }
        return false;
    }

    private static ReferenceKernel.Stats reference(Model model, int[] context) {
        return NextTokenReference.fromScratch(model, context, K);
    }

    @Test
    void appendAndOpenReturnWhileAnotherSessionDecodes() throws Exception {
        Model model = TestModels.tiny();
        int vocab = model.info().vocabSize();
        try (SessionPool pool = pool(model)) {
            SessionPool.Session other = pool.open(range(5, 8, vocab));
            pool.glimpse(List.of(other));
            SessionPool.Session busy = pool.open(range(11, LONG, vocab));
            CompletableFuture<Glimpse> running = glimpseInBackground(pool, busy);

            pool.append(other, new int[] {42, 43});
            SessionPool.Session opened = pool.open(new int[] {7, 8, 9});
            assertFalse(running.isDone(), "append and open returned only after the decode: they waited for it");

            running.get(120, TimeUnit.SECONDS);
            assertEquals(10, other.length());
            assertEquals(3, opened.length());
            assertEquals(LONG, busy.length());
            // what was appended meanwhile is decoded at the next glimpse, like any append
            assertMatches(reference(model, concat(range(5, 8, vocab), new int[] {42, 43})), pool.glimpse(List.of(other)).getFirst(), "other");
            assertMatches(reference(model, new int[] {7, 8, 9}), pool.glimpse(List.of(opened)).getFirst(), "opened");
        }
    }

    @Test
    void tokensAppendedToTheSessionBeingDecodedWaitForItsNextGlimpse() throws Exception {
        Model model = TestModels.tiny();
        int vocab = model.info().vocabSize();
        int[] context = range(3, LONG, vocab);
        int[] step = {100, 200, 300, 400, 500};
        try (SessionPool pool = pool(model)) {
            SessionPool.Session s = pool.open(context);
            CompletableFuture<Glimpse> running = glimpseInBackground(pool, s);
            pool.append(s, step);
            assertFalse(running.isDone(), "the append waited for the decode");
            assertEquals(LONG + step.length, s.length());

            // the running glimpse answers for the context it took, not for the step appended meanwhile
            Glimpse first = running.get(120, TimeUnit.SECONDS);
            assertMatches(reference(model, context), first, "the glimpse that was running");
            assertEquals(LONG + step.length, s.length(), "the step is still pending after that glimpse");
            long decoded = pool.decodedTokens();
            Glimpse next = pool.glimpse(List.of(s)).getFirst();
            assertEquals(step.length, pool.decodedTokens() - decoded, "the next glimpse decodes only the step");
            assertMatches(reference(model, concat(context, step)), next, "after the step");
            assertTrue(pool.glimpse(List.of(s)).getFirst() == next, "nothing pending: the last summary again");
        }
    }

    /**
     * Appends racing glimpses of the same sessions: per session one thread appends short chunks
     * while another glimpses it over and over. Every token must be decoded exactly once, in order:
     * the pool's decoded-token count equals the tokens appended, and each session's last glimpse
     * equals the float64 reference of everything appended to it.
     */
    @Test
    void appendsRacingGlimpsesLoseAndRepeatNoToken() throws Exception {
        Model model = TestModels.tiny();
        int vocab = model.info().vocabSize();
        int sessions = 4;
        int chunks = 60;
        try (SessionPool pool = new SessionPool(model, EngineOptions.defaults().withContextSize(2048).withMaxSequences(sessions).withThreads(1), K)) {
            SessionPool.Session[] s = new SessionPool.Session[sessions];
            int[][] appended = new int[sessions][];
            List<Thread> threads = new ArrayList<>();
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1);
            for (int i = 0; i < sessions; i++) {
                int id = i;
                appended[i] = range(17 * i + 1, 3, vocab);
                s[i] = pool.open(appended[i]);
                AtomicBoolean done = new AtomicBoolean();
                threads.add(new Thread(() -> {
                    try {
                        start.await();
                        Random random = new Random(id);
                        for (int c = 0; c < chunks; c++) {
                            int[] chunk = range(random.nextInt(vocab), 1 + random.nextInt(3), vocab);
                            pool.append(s[id], chunk);
                            appended[id] = concat(appended[id], chunk);
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    } finally {
                        done.set(true);
                    }
                }, "append-" + i));
                threads.add(new Thread(() -> {
                    try {
                        start.await();
                        while (!done.get()) {
                            pool.glimpse(List.of(s[id]));
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }, "glimpse-" + i));
            }
            threads.forEach(Thread::start);
            start.countDown();
            for (Thread t : threads) {
                t.join(120_000);
                assertFalse(t.isAlive(), t.getName() + " still running");
            }
            assertTrue(failures.isEmpty(), () -> "failures: " + failures);
            long total = 0;
            for (int i = 0; i < sessions; i++) {
                assertEquals(appended[i].length, s[i].length(), "session " + i + " length");
                Glimpse last = pool.glimpse(List.of(s[i])).getFirst();
                assertMatches(reference(model, appended[i]), last, "session " + i + " after " + appended[i].length + " tokens");
                total += appended[i].length;
            }
            assertEquals(total, pool.decodedTokens(), "every appended token decoded exactly once");
        }
    }

    @Test
    void closingASessionWaitsForTheDecodeThatUsesIt() throws Exception {
        Model model = TestModels.tiny();
        int vocab = model.info().vocabSize();
        int[] context = range(9, LONG, vocab);
        try (SessionPool pool = pool(model)) {
            SessionPool.Session s = pool.open(context);
            CompletableFuture<Glimpse> running = glimpseInBackground(pool, s);
            pool.close(s); // a native KV clear: after the decode, never during it
            assertTrue(running.isDone(), "close returned while the decode of its session ran");
            assertMatches(reference(model, context), running.get(), "the glimpse before the close");
            assertThrows(ClosedException.class, () -> pool.glimpse(List.of(s)));
        }
    }
}
