package io.panscore.api.router;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.panscore.kernel.CapacityException;
import io.panscore.kernel.Model;
import io.panscore.kernel.fixture.Fixtures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue #13: the dispatcher survives interrupts; one-shot glimpses have a reserve. */
class GlimpRouterHardeningTest {

    static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(Fixtures.tiny());
    }

    @AfterAll
    static void free() {
        model.close();
    }

    private static void interruptDispatchers() {
        Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("panscore-glimpse-dispatcher")).forEach(Thread::interrupt);
    }

    @Test
    void anInterruptedDispatcherDoesNotHangLaterGlimpses() throws Exception {
        int n = 12;
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(n).contextSize(4096).maxWait(Duration.ofMillis(2)).build()) {
            List<GlimpRouter.RouterSession> sessions = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                sessions.add(router.open("session number " + i));
            }
            Decision before = router.glimpse(sessions.getFirst());
            interruptDispatchers();
            Thread.sleep(100); // let the interrupt land while the dispatcher waits for work
            ExecutorService pool = Executors.newFixedThreadPool(n);
            try {
                CyclicBarrier start = new CyclicBarrier(n);
                List<Future<Integer>> done = new ArrayList<>();
                for (GlimpRouter.RouterSession s : sessions) {
                    done.add(pool.submit(() -> {
                        start.await();
                        for (int k = 0; k < 20; k++) {
                            router.glimpse(s);
                            if (k == 10) {
                                interruptDispatchers();
                            }
                        }
                        return 20;
                    }));
                }
                for (Future<Integer> f : done) {
                    // a hang (the bug) shows as a timeout here; 60 s is far above the few ms needed
                    assertEquals(20, f.get(60, TimeUnit.SECONDS));
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(before, router.glimpse(sessions.getFirst()), "same context, same decision");
        }
    }

    @Test
    void longLivedSessionsCannotTakeTheOneShotReserve() {
        try (GlimpRouter router = GlimpRouter.builder(model).maxSessions(2).contextSize(256).oneShotReserve(1, 64).build()) {
            GlimpRouter.RouterSession a = router.open("a long-lived session");
            CapacityException e = assertThrows(CapacityException.class, () -> router.open("another one"));
            assertTrue(e.getMessage().contains("one-shot"), e.getMessage());
            Decision d = router.glimpseContext("a one-shot glimpse");
            assertEquals(d.token(), router.glimpseContext("a one-shot glimpse").token());
            router.glimpse(a);
            assertEquals(1, router.openSessions());
        }
    }
}
