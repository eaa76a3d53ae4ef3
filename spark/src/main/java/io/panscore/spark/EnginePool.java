package io.panscore.spark;

import io.panscore.kernel.Engine;
import io.panscore.kernel.EngineOptions;
import io.panscore.kernel.Model;
import io.panscore.kernel.ModelOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * JVM-wide engines for Spark tasks: per (model path, model options, engine options) one
 * {@link Model}, loaded lazily on first use and then kept for the life of the executor, and a pool of
 * {@link Engine}s on it. A task leases an engine for its whole partition and gives it back when it
 * ends, so tasks running at the same time in one executor never share an engine (an engine is one
 * llama.cpp context and serializes its calls), and the next task of the executor reuses it: the pool
 * grows to the executor's number of concurrent tasks (its slots) and no further.
 *
 * <p>Thread-safe. A model that fails to load is not cached; the next lease tries again.
 */
public final class EnginePool {

    private record Key(Path model, ModelOptions modelOptions, EngineOptions engineOptions) {}

    private static final Map<Key, EnginePool> POOLS = new ConcurrentHashMap<>();

    private final Key key;
    private final Model model;
    private final ConcurrentLinkedDeque<Engine> idle = new ConcurrentLinkedDeque<>();
    private final AtomicInteger created = new AtomicInteger();
    private final AtomicInteger leased = new AtomicInteger();
    /** Set by {@link #closeIdle()} under the pool's monitor; a lease never takes a closed pool's engines. */
    private boolean closed;

    private EnginePool(Key key) {
        this.key = key;
        this.model = Model.load(key.model(), key.modelOptions());
    }

    /** An engine held by one task; {@link #close()} gives it back (once; later calls do nothing). */
    public static final class Lease implements AutoCloseable {
        private final EnginePool pool;
        private final Engine engine;
        private final AtomicBoolean returned = new AtomicBoolean();

        private Lease(EnginePool pool, Engine engine) {
            this.pool = pool;
            this.engine = engine;
        }

        public Engine engine() {
            return engine;
        }

        @Override
        public void close() {
            if (returned.compareAndSet(false, true)) {
                synchronized (pool) {
                    pool.idle.push(engine);
                    pool.leased.decrementAndGet();
                }
            }
        }
    }

    /** Leases an idle engine of the model, creating the model and the engine as needed. */
    public static Lease lease(Path model, ModelOptions modelOptions, EngineOptions engineOptions) {
        Key key = new Key(model.toAbsolutePath().normalize(), modelOptions, engineOptions);
        while (true) {
            EnginePool pool = POOLS.computeIfAbsent(key, EnginePool::new);
            Engine engine;
            synchronized (pool) {
                // closeIdle may have closed this pool between the lookup and here: take a fresh one
                if (pool.closed) {
                    POOLS.remove(key, pool);
                    continue;
                }
                pool.leased.incrementAndGet(); // from here on closeIdle leaves the pool alone
                engine = pool.idle.poll();
            }
            if (engine == null) {
                try {
                    engine = pool.model.newEngine(engineOptions);
                } catch (RuntimeException | Error e) {
                    synchronized (pool) {
                        pool.leased.decrementAndGet();
                    }
                    throw e;
                }
                pool.created.incrementAndGet();
            }
            return new Lease(pool, engine);
        }
    }

    /** Engines created so far per model file name (for tests and logs). */
    public static Map<String, Integer> enginesCreated() {
        Map<String, Integer> out = new TreeMap<>();
        POOLS.forEach((k, p) -> out.merge(k.model().getFileName().toString(), p.created.get(), Integer::sum));
        return out;
    }

    /** Models loaded so far in this JVM. */
    public static int modelsLoaded() {
        return POOLS.size();
    }

    /**
     * Closes every idle engine and every model none of whose engines is leased, and forgets them (a
     * local-mode driver that is done, or tests). Pools with engines out stay.
     */
    public static synchronized int closeIdle() {
        int closed = 0;
        List<Key> keys = new ArrayList<>(POOLS.keySet());
        for (Key k : keys) {
            EnginePool p = POOLS.get(k);
            if (p == null) {
                continue;
            }
            synchronized (p) {
                // checked and closed under the pool's monitor, which lease() holds while it counts a lease
                if (p.leased.get() > 0 || p.closed) {
                    continue;
                }
                p.closed = true;
                POOLS.remove(k, p);
                for (Engine e; (e = p.idle.poll()) != null;) {
                    e.close();
                }
                p.model.close();
            }
            closed++;
        }
        return closed;
    }

    @Override
    public String toString() {
        return "EnginePool[" + key + ", created " + created + ", leased " + leased + "]";
    }
}
