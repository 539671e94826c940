package dev.sluice.observe;

import dev.sluice.model.SluiceValues;
import dev.sluice.observe.v1.Flow;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The last {@code capacity} flows, oldest first, and the followers that receive each flow added after they
 * subscribed. Writers never wait for a follower: a follower that falls behind loses flows, counted as lost.
 */
public final class FlowRing {
    /** Enough for a burst of a few thousand flows between two reads of a follower's stream. */
    public static final int DEFAULT_FOLLOWER_QUEUE = 4096;

    private final Flow[] slots;
    private long seen;
    private final AtomicLong lost = new AtomicLong();
    private final List<Follower> followers = new CopyOnWriteArrayList<>();

    public FlowRing(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
        }
        slots = new Flow[capacity];
    }

    /** Sized by {@code hubble.eventBufferCapacity}, as Hubble sizes its ring. */
    public static FlowRing of(SluiceValues.Hubble hubble) {
        return new FlowRing(hubble.eventBufferCapacity());
    }

    /** What the ring holds now and what followers have missed, taken together so that they agree. */
    public record Counters(long numFlows, long maxFlows, long seenFlows, long lostEvents) {}

    /** The flows in the ring when the follower subscribed, and the follower for everything after them. */
    public record Subscription(List<Flow> backlog, Follower follower) {}

    public void add(Flow flow) {
        Objects.requireNonNull(flow, "flow");
        // Storing and handing to followers under one lock keeps every follower's order the ring's order.
        synchronized (this) {
            slots[(int) (seen % slots.length)] = flow;
            seen++;
            for (Follower follower : followers) {
                if (!follower.offer(flow)) {
                    lost.incrementAndGet();
                }
            }
        }
    }

    /** Events lost before they became flows, e.g. a perf ring the datapath overran. */
    public void recordLost(long events) {
        lost.addAndGet(events);
    }

    /** The flows in the ring, oldest first. */
    public synchronized List<Flow> snapshot() {
        int size = (int) Math.min(seen, slots.length);
        List<Flow> flows = new ArrayList<>(size);
        for (long i = seen - size; i < seen; i++) {
            flows.add(slots[(int) (i % slots.length)]);
        }
        return flows;
    }

    /** The flows held now and a follower for every later one, with no flow missed or repeated between them. */
    public synchronized Subscription follow(int queueCapacity) {
        Follower follower = new Follower(queueCapacity, followers::remove);
        followers.add(follower);
        return new Subscription(snapshot(), follower);
    }

    public synchronized Counters counters() {
        return new Counters(Math.min(seen, slots.length), slots.length, seen, lost.get());
    }

    public int capacity() {
        return slots.length;
    }
}
