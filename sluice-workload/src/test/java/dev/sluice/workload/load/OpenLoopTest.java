package dev.sluice.workload.load;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.LongUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The schedule and the coordinated-omission correction, on a simulated clock (deterministic, no timing). */
class OpenLoopTest {
    private static final long MS = 1_000_000;
    private static final long START = 1_000 * MS;

    /** A server answering each request after {@code serviceNanos(n)} (n counts requests from 0), recording sends. */
    private static final class SimulatedServer implements Caller {
        final SimulatedTicker ticker;
        final LongUnaryOperator serviceNanos;
        final List<long[]> sends = new ArrayList<>();
        int inFlight;
        int maxInFlight;

        SimulatedServer(SimulatedTicker ticker, LongUnaryOperator serviceNanos) {
            this.ticker = ticker;
            this.serviceNanos = serviceNanos;
        }

        @Override
        public void call(int connection, Consumer<Outcome> done) {
            long n = sends.size();
            sends.add(new long[]{connection, ticker.nanoTime()});
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            ticker.schedule(ticker.nanoTime() + serviceNanos.applyAsLong(n), () -> {
                inFlight--;
                done.accept(n % 50 == 49 ? Outcome.failure("UNAVAILABLE", "simulated") : Outcome.success("SERVING"));
            });
        }

        @Override
        public void close() {
        }
    }

    private static LoadSpec spec(double qps, Duration duration, int connections) {
        return new LoadSpec(new LoadSpec.Grpc("product-service", 50051, false, 0), qps, duration, connections,
                LoadSpec.DEFAULT_PERCENTILES, Duration.ofSeconds(3), "test");
    }

    private record Run(LoadResult result, SimulatedServer server, Schedule schedule) {
    }

    private static Run run(LoadSpec spec, LongUnaryOperator serviceNanos) {
        SimulatedTicker ticker = new SimulatedTicker(START);
        SimulatedServer server = new SimulatedServer(ticker, serviceNanos);
        Schedule schedule = Schedule.of(spec, START);
        boolean[] finished = {false};
        OpenLoop loop = new OpenLoop(schedule, server, ticker, () -> finished[0] = true);
        loop.start();
        ticker.runAll();
        assertTrue(finished[0], "the loop says when it is done");
        return new Run(LoadRunner.result(spec, schedule, loop, Instant.EPOCH, 0), server, schedule);
    }

    @Test
    void eachConnectionSendsAtItsOwnRateAndTogetherTheyAreEvenlySpaced() {
        // 100 qps over 4 connections for 1 s: each connection every 40 ms, connection i offset by i * 10 ms.
        Run run = run(spec(100, Duration.ofSeconds(1), 4), n -> MS);
        assertEquals(100, run.schedule().plannedRequests());
        assertEquals(100, run.server().sends.size());
        assertEquals(1, run.server().maxInFlight, "a 1 ms answer at 10 ms spacing: never two requests at once");
        for (int i = 0; i < run.server().sends.size(); i++) {
            long[] send = run.server().sends.get(i);
            assertEquals(START + i * 10 * MS, send[1], "send " + i);
            assertEquals(i % 4, send[0], "send " + i + "'s connection");
        }
        LoadResult r = run.result();
        assertEquals(100, r.sluice().requests());
        assertEquals(0.0, r.sluice().maxSendLag(), "every request went out on time");
        assertEquals(2, r.errors(), "every 50th simulated answer is UNAVAILABLE");
        assertEquals(98, r.retCodes().get("SERVING"));
        assertEquals(2, r.retCodes().get("UNAVAILABLE"));
        // On time, so corrected and uncorrected agree: 1 ms each (within HdrHistogram's 3 digits).
        assertEquals(0.001, r.durationHistogram().valueAt(99), 0.001 * 1e-3);
        assertEquals(0.001, r.sluice().uncorrected().valueAt(99), 0.001 * 1e-3);
        // The last request is intended at 990 ms and answered 1 ms later: the run lasted its second.
        assertEquals(1_000 * MS, r.actualDurationNanos());
        assertEquals(100, r.actualQps(), 1e-9);
    }

    @Test
    void aStallShowsInTheCorrectedPercentilesNotInTheUncorrectedOnes() {
        // One connection at 100 qps for 10 s; request 500 takes 1 s, the others 1 ms. The 100 requests due during
        // the stall go out late, back to back: from their intended times they waited up to a second; from their
        // actual send times they took 1 ms.
        Run run = run(spec(100, Duration.ofSeconds(10), 1), n -> n == 500 ? 1_000 * MS : MS);
        LoadResult r = run.result();
        assertEquals(1000, r.sluice().requests(), "late requests are still sent: the schedule is kept");
        assertEquals(0, r.sluice().unsent());
        DurationHistogram corrected = r.durationHistogram();
        DurationHistogram uncorrected = r.sluice().uncorrected();
        assertTrue(corrected.valueAt(99) > 0.8, "corrected p99 shows the stall: " + corrected.valueAt(99));
        assertTrue(corrected.valueAt(90) > 0.1, "about 10 % of requests waited: p90 " + corrected.valueAt(90));
        assertTrue(uncorrected.valueAt(99) < 0.0011, "uncorrected p99 does not: " + uncorrected.valueAt(99));
        assertEquals(1, above(uncorrected, 0.002), "uncorrected: only the stalled request itself took long");
        assertTrue(above(corrected, 0.1) > 90, "corrected: the ~100 requests due during the stall waited: " + above(corrected, 0.1));
        assertEquals(1.0, uncorrected.max(), 0.001, "the stalled request itself took 1 s");
        assertEquals(1.0, corrected.max(), 0.001);
        assertEquals(0.990, r.sluice().maxSendLag(), 1e-9, "request 501, due at 5.01 s, went out at 6 s");
        // The schedule catches up: the last request still goes out at its intended 9.99 s.
        long[] last = run.server().sends.getLast();
        assertEquals(START + 9_990 * MS, last[1]);
    }

    @Test
    void theRunEndsWithItsDurationAndCountsWhatItCouldNotSend() {
        // One connection at 100 qps for 1 s (timeout 3 s); request 50 (due at 0.5 s) takes 5 s. Requests 51..99
        // were due before the end, but the connection was still waiting a timeout after it (at 4 s): they are not
        // sent, and are counted as unsent.
        Run run = run(spec(100, Duration.ofSeconds(1), 1), n -> n == 50 ? 5_000 * MS : MS);
        LoadResult r = run.result();
        assertEquals(51, r.sluice().requests());
        assertEquals(49, r.sluice().unsent());
        assertEquals(100, r.sluice().plannedRequests());
        assertEquals(5_500 * MS, r.actualDurationNanos(), "the last answer, 5 s after 0.5 s, ends the run");
        assertTrue(LoadReport.summary(r).contains("Unsent: 49 of 100 requests"), LoadReport.summary(r));
    }

    @Test
    void requestsDueBeforeTheEndStillGoOutLateWithinATimeout() {
        // As above, but request 50 takes 2 s: at 2.5 s, within the 3 s grace, the connection sends the 49 it owes.
        Run run = run(spec(100, Duration.ofSeconds(1), 1), n -> n == 50 ? 2_000 * MS : MS);
        LoadResult r = run.result();
        assertEquals(100, r.sluice().requests());
        assertEquals(0, r.sluice().unsent());
        assertEquals(2.0, r.durationHistogram().max(), 0.002, "request 50 itself, due at 0.5 s, answered at 2.5 s (request 51 waited 1.99 s)");
    }

    private static long above(DurationHistogram h, double seconds) {
        return h.data().stream().filter(b -> b.start() >= seconds).mapToLong(DurationHistogram.Bucket::count).sum();
    }

    @Test
    void closedLoopSendsWhenTheAnswerComesBack() {
        Run run = run(spec(0, Duration.ofMillis(100), 2), n -> 2 * MS);
        // Two connections, 2 ms per answer, 100 ms: 50 each.
        assertEquals(100, run.server().sends.size());
        assertEquals(-1, run.schedule().plannedRequests());
        LoadResult r = run.result();
        assertEquals("max", r.requestedQps());
        assertEquals("closed-loop", r.sluice().coordinatedOmission());
        assertEquals(0.002, r.durationHistogram().valueAt(50), 0.002 * 1e-3);
    }

    @Test
    void plannedRequestsCountsEveryConnectionsShare() {
        // 1,000 qps over 50 connections for 60 s: 20 per second each.
        Schedule s = Schedule.of(new LoadSpec(new LoadSpec.Http(URI.create("http://a/")), 1000, Duration.ofSeconds(60), 50,
                LoadSpec.DEFAULT_PERCENTILES, Duration.ofSeconds(1), ""), 0);
        assertEquals(50 * MS, s.intervalNanos());
        assertEquals(60_000, s.plannedRequests());
        assertEquals(MS, s.intended(1, 0));
        assertEquals(49 * MS + 50 * MS, s.intended(49, 1));
        // 7 qps over 3 connections for 1 s: intervals of 428.57 ms, offsets 0, 142.86, 285.71 ms: 3 + 2 + 2.
        Schedule odd = new Schedule(0, 1_000 * MS, 3, Math.round(3e9 / 7), 0);
        assertEquals(7, odd.plannedRequests());
    }
}
