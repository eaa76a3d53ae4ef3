package io.panscore.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.ModelOptions;
import io.panscore.kernel.ScoreOptions;
import io.panscore.kernel.Sequence;
import io.panscore.kernel.fixture.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Issue #13 item 12: closeIdle racing lease must never hand a task a closed engine (or fail a lease). */
class EnginePoolRaceTest {

    @AfterAll
    static void cleanUp() {
        EnginePool.closeIdle();
    }

    @Test
    void closeIdleNeverClosesALeasedEngine() throws Exception {
        Path model = Fixtures.tiny();
        EngineOptions options = EngineOptions.defaults().withContextSize(256).withThreads(1);
        int threads = 8;
        int leasesEach = 150;
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        AtomicBoolean stop = new AtomicBoolean();
        try {
            Future<Integer> closer = pool.submit(() -> {
                int n = 0;
                while (!stop.get()) {
                    n += EnginePool.closeIdle();
                    Thread.onSpinWait();
                }
                return n;
            });
            List<Future<Integer>> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                tasks.add(pool.submit(() -> {
                    int ok = 0;
                    for (int i = 0; i < leasesEach; i++) {
                        try (EnginePool.Lease lease = EnginePool.lease(model, ModelOptions.defaults(), options)) {
                            assertFalse(lease.engine().isClosed(), "a leased engine was closed");
                            // the engine works: tokenizing uses the model, options the engine
                            assertEquals(256, lease.engine().options().contextSize());
                            int[] ids = lease.engine().model().tokenize("a b c", true, false);
                            assertEquals(ids.length - 1, lease.engine().score(List.of(Sequence.of(ids)), ScoreOptions.defaults()).getFirst().size());
                            ok++;
                        }
                    }
                    return ok;
                }));
            }
            for (Future<Integer> f : tasks) {
                assertEquals(leasesEach, f.get(5, TimeUnit.MINUTES));
            }
            stop.set(true);
            closer.get(1, TimeUnit.MINUTES);
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
    }
}
