package dev.sluice.proxy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.LongAdder;

/**
 * An {@link AccessLog} that hands records to a sink on its own thread through a bounded queue: an event loop only
 * offers a record (never waking the sink's thread, which drains the queue in batches every 10 ms), and when the sink
 * falls behind and the queue is full the record is dropped and counted, never waited for (a slow flow consumer must
 * not slow the requests).
 */
public final class AccessLogQueue implements AccessLog, AutoCloseable {
    /** How long the sink's thread sleeps when the queue is empty: records become flows within about this. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final int BATCH = 4096;
    private final ArrayBlockingQueue<AccessRecord> queue;
    private final AccessLog sink;
    private final LongAdder dropped = new LongAdder();
    private final LongAdder delivered = new LongAdder();
    private final Thread drainer;
    private volatile boolean closed;

    /** @param capacity records held for the sink at most */
    public AccessLogQueue(AccessLog sink, int capacity) {
        this.sink = sink;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.drainer = Thread.ofPlatform().daemon().name("sluice-proxy-access-log").start(this::drain);
    }

    @Override
    public void record(AccessRecord record) {
        if (closed || !queue.offer(record)) {
            dropped.increment();
        }
    }

    private void drain() {
        List<AccessRecord> batch = new ArrayList<>(BATCH);
        while (true) {
            boolean last = closed;
            queue.drainTo(batch, BATCH);
            for (AccessRecord next : batch) {
                try {
                    sink.record(next);
                    delivered.increment();
                } catch (RuntimeException e) {
                    // A sink that fails on one record must not lose the ones after it.
                    dropped.increment();
                }
            }
            if (batch.isEmpty()) {
                if (last) {
                    return;
                }
                // Polled, never woken: an offer that had to wake this thread would cost the event loop a futex call
                // per request (as the datapath's flow reader, which is not woken per event either).
                LockSupport.parkNanos(POLL_NANOS);
            }
            batch.clear();
        }
    }

    /** Records lost because the queue was full (or the log closed), or the sink failed on them. */
    public long dropped() {
        return dropped.sum();
    }

    /** Records the sink took. */
    public long delivered() {
        return delivered.sum();
    }

    /** Records waiting for the sink. */
    public int pending() {
        return queue.size();
    }

    /** Delivers what is queued, then stops. */
    @Override
    public void close() {
        closed = true;
        try {
            drainer.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
