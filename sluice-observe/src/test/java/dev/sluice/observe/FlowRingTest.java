package dev.sluice.observe;

import dev.sluice.model.SluiceValues;
import dev.sluice.observe.v1.Flow;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FlowRingTest {
    private static Flow numbered(int n) {
        return Flows.forwarded().toBuilder().setDropReason(n).build();
    }

    private static List<Integer> numbers(List<Flow> flows) {
        return flows.stream().map(Flow::getDropReason).map(Integer::valueOf).toList();
    }

    @Test
    void keepsTheLastCapacityFlowsOldestFirst() {
        FlowRing ring = new FlowRing(3);
        assertEquals(List.of(), ring.snapshot());
        IntStream.rangeClosed(1, 5).forEach(n -> ring.add(numbered(n)));
        assertEquals(List.of(3, 4, 5), numbers(ring.snapshot()));
        assertEquals(new FlowRing.Counters(3, 3, 5, 0), ring.counters());
    }

    @Test
    void sizedByTheValuesFile() {
        assertEquals(4095, FlowRing.of(SluiceValues.defaults().hubble()).capacity());
        assertThrows(IllegalArgumentException.class, () -> new FlowRing(0));
    }

    @Test
    void followersGetEveryLaterFlowInOrder() throws InterruptedException {
        FlowRing ring = new FlowRing(10);
        ring.add(numbered(1));
        FlowRing.Subscription subscription = ring.follow(100);
        assertEquals(List.of(1), numbers(subscription.backlog()));
        Thread writer = Thread.ofPlatform().start(() -> IntStream.rangeClosed(2, 50).forEach(n -> ring.add(numbered(n))));
        List<Flow> received = new ArrayList<>();
        try (Follower follower = subscription.follower()) {
            while (received.size() < 49) {
                received.add(follower.poll(Duration.ofSeconds(5)));
            }
            writer.join();
            assertEquals(IntStream.rangeClosed(2, 50).boxed().toList(), numbers(received));
            assertEquals(0, follower.dropped());
        }
        ring.add(numbered(51));
        assertNull(subscription.follower().poll(Duration.ofMillis(10)), "a closed follower gets nothing more");
    }

    @Test
    void aSlowFollowerLosesFlowsWithoutBlockingTheWriter() throws InterruptedException {
        FlowRing ring = new FlowRing(100);
        FlowRing.Subscription slow = ring.follow(2);
        FlowRing.Subscription keepingUp = ring.follow(100);
        IntStream.rangeClosed(1, 5).forEach(n -> ring.add(numbered(n)));
        assertEquals(3, slow.follower().dropped());
        assertEquals(new FlowRing.Counters(5, 100, 5, 3), ring.counters());
        assertEquals(1, slow.follower().poll(Duration.ZERO).getDropReason());
        assertEquals(2, slow.follower().poll(Duration.ZERO).getDropReason());
        assertNull(slow.follower().poll(Duration.ZERO));
        assertEquals(0, keepingUp.follower().dropped());
        ring.recordLost(7);
        assertEquals(10, ring.counters().lostEvents());
    }
}
