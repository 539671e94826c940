package dev.sluice.observe;

import dev.sluice.observe.v1.Flow;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/** The flows a {@link FlowRing} added since this follower subscribed and that it has not taken yet. */
public final class Follower implements AutoCloseable {
    private final BlockingQueue<Flow> queue;
    private final AtomicLong dropped = new AtomicLong();
    private final Consumer<Follower> unsubscribe;

    Follower(int queueCapacity, Consumer<Follower> unsubscribe) {
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.unsubscribe = unsubscribe;
    }

    /** @return false, and the flow counted as dropped, when the queue is full */
    boolean offer(Flow flow) {
        if (queue.offer(flow)) {
            return true;
        }
        dropped.incrementAndGet();
        return false;
    }

    /** The next flow, or null when none arrived within {@code timeout}. */
    public Flow poll(Duration timeout) throws InterruptedException {
        return queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Flows this follower lost because it fell behind. */
    public long dropped() {
        return dropped.get();
    }

    @Override
    public void close() {
        unsubscribe.accept(this);
    }
}
