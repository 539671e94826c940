package dev.sluice.l7.route;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Envoy's fully jittered exponential retry back-off: the ceilings per retry, the spread under them, the bounds. */
class RetryBackOffTest {
    @Test
    void theCeilingGrowsAsBaseTimesTwoToTheNMinusOneUpToTheMax() {
        RetryPolicy.BackOff b = new RetryPolicy.BackOff(Duration.ofMillis(25), Duration.ofMillis(250));
        assertEquals(Duration.ofMillis(25), b.ceiling(1));
        assertEquals(Duration.ofMillis(75), b.ceiling(2));
        assertEquals(Duration.ofMillis(175), b.ceiling(3));
        assertEquals(Duration.ofMillis(250), b.ceiling(4));
        assertEquals(Duration.ofMillis(250), b.ceiling(40));
        assertEquals(RetryPolicy.BackOff.ENVOY_DEFAULT, RetryPolicy.BackOff.withBase(Duration.ofMillis(25)));
    }

    @Test
    void waitsAreSpreadOverTheWholeRangeUnderTheCeiling() {
        RetryPolicy.BackOff b = new RetryPolicy.BackOff(Duration.ofMillis(100), Duration.ofSeconds(1));
        SplittableRandom random = new SplittableRandom(7);
        long below = 0;
        long max = 0;
        for (int i = 0; i < 10_000; i++) {
            long ns = b.next(2, random).toNanos();
            assertTrue(ns >= 0 && ns <= 300_000_000L, ns + " ns");
            below += ns < 150_000_000L ? 1 : 0;
            max = Math.max(max, ns);
        }
        // Full jitter: uniform over [0, 300 ms], so about half below 150 ms, and waits near the ceiling.
        assertTrue(below > 4_500 && below < 5_500, below + " of 10,000 below half the ceiling");
        assertTrue(max > 290_000_000L, max + " ns");
    }

    @Test
    void aZeroBaseOrAMaxBelowTheBaseIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new RetryPolicy.BackOff(Duration.ZERO, Duration.ofMillis(1)));
        assertThrows(IllegalArgumentException.class, () -> new RetryPolicy.BackOff(Duration.ofMillis(10), Duration.ofMillis(5)));
    }
}
