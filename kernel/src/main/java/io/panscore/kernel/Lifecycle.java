package io.panscore.kernel;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * Owns one native handle: hands it out for the length of a call, frees it exactly once, and never
 * while a call is using it. {@code close()} waits for calls in flight, then frees; later calls get
 * a {@link ClosedException} instead of a dangling pointer. Handles that others depend on (a model
 * and its engines) refuse to close while dependents are open.
 */
final class Lifecycle {

    private final String what;
    private final MemorySegment handle;
    private final Consumer<MemorySegment> free;
    private final boolean exclusive;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final AtomicInteger dependents = new AtomicInteger();
    private volatile boolean closed;

    /**
     * @param exclusive true when calls must not overlap (an engine's llama.cpp context), false when
     *                  they may (a model's tokenizer)
     */
    Lifecycle(String what, MemorySegment handle, Consumer<MemorySegment> free, boolean exclusive) {
        this.what = what;
        this.handle = handle;
        this.free = free;
        this.exclusive = exclusive;
    }

    Lifecycle(String what, MemorySegment handle, Consumer<MemorySegment> free) {
        this(what, handle, free, false);
    }

    /** A permit to use the handle until closed; use in try-with-resources. */
    final class Use implements AutoCloseable {
        private final Lock held;

        private Use(Lock held) {
            this.held = held;
        }

        MemorySegment handle() {
            return handle;
        }

        @Override
        public void close() {
            held.unlock();
        }
    }

    Use use() {
        Lock l = exclusive ? lock.writeLock() : lock.readLock();
        l.lock();
        if (closed) {
            l.unlock();
            throw new ClosedException(what + " is closed");
        }
        return new Use(l);
    }

    /** Registers a dependent; fails if this handle is already closed. */
    void addDependent() {
        try (Use ignored = use()) {
            dependents.incrementAndGet();
        }
    }

    void removeDependent() {
        dependents.decrementAndGet();
    }

    boolean isClosed() {
        return closed;
    }

    /** Frees the handle once; idempotent. Returns true for the call that freed it. */
    boolean close() {
        Lock l = lock.writeLock();
        l.lock();
        try {
            if (closed) {
                return false;
            }
            int open = dependents.get();
            if (open > 0) {
                throw new PanscoreException(what + " still has " + open + " open engine(s); close them first");
            }
            closed = true;
            free.accept(handle);
            return true;
        } finally {
            l.unlock();
        }
    }
}
