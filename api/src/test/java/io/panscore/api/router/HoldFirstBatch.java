package io.panscore.api.router;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A router listener that records every batch (its glimpses, decode time and thread) and holds the
 * first {@code onBatch} call, which runs with the decode lock held, until {@link #release} counts
 * down: a test waits on {@link #entered}, queues glimpses behind the held decode, then releases it.
 * Thread-safe (the lists are synchronized).
 */
class HoldFirstBatch implements GlimpRouter.Listener {

    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final List<Integer> batches = Collections.synchronizedList(new ArrayList<>());
    final List<Long> decodeNanos = Collections.synchronizedList(new ArrayList<>());
    final List<String> threads = Collections.synchronizedList(new ArrayList<>());
    private final AtomicBoolean first = new AtomicBoolean(true);

    @Override
    public void onBatch(int glimpses, long nanos) {
        batches.add(glimpses);
        decodeNanos.add(nanos);
        threads.add(Thread.currentThread().getName());
        if (first.getAndSet(false)) {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
