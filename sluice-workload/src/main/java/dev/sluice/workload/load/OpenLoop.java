package dev.sluice.workload.load;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives the connections through a {@link Schedule}: each connection has at most one request outstanding (as a
 * fortio "thread"), sends its next request at its intended time, or at once if the previous answer came after that
 * time; the late request's latency still counts from its intended time. Nothing blocks: sends are timer tasks and
 * the next send is arranged from the previous answer's callback. The run ends with its duration: a connection
 * still behind schedule then sends what it owes for one more timeout ({@link Schedule#graceNanos()}), then nothing,
 * and what it had yet to send is counted as unsent (a target that answers slowly would otherwise stretch a run to
 * its requests times the timeout).
 */
public final class OpenLoop {
    private final Schedule schedule;
    private final Caller caller;
    private final Ticker ticker;
    private final Latencies[] latencies;
    private final long[] lastDone;
    private final AtomicInteger running;
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong unsent = new AtomicLong();
    // How late sends went out (behind their intended time): since the last look, and over the whole run.
    private final AtomicLong lagSinceLook = new AtomicLong();
    private final AtomicLong maxLag = new AtomicLong();
    private final Runnable onFinished;

    /** @param onFinished called once, when every connection has had its last answer */
    public OpenLoop(Schedule schedule, Caller caller, Ticker ticker, Runnable onFinished) {
        this.schedule = schedule;
        this.caller = caller;
        this.ticker = ticker;
        this.onFinished = onFinished;
        this.latencies = new Latencies[schedule.connections()];
        this.lastDone = new long[schedule.connections()];
        for (int c = 0; c < latencies.length; c++) {
            latencies[c] = new Latencies();
            lastDone[c] = schedule.startNanos();
        }
        this.running = new AtomicInteger(schedule.connections());
    }

    /** Starts every connection's schedule. */
    public void start() {
        for (int c = 0; c < latencies.length; c++) {
            next(c, 0);
        }
    }

    private void next(int connection, long k) {
        long now = ticker.nanoTime();
        boolean over = now >= schedule.lastSendNanos();
        if (!schedule.includes(connection, k, now) || over) {
            unsent.addAndGet(schedule.remaining(connection, k));
            if (running.decrementAndGet() == 0) {
                onFinished.run();
            }
            return;
        }
        long intended = schedule.openLoop() ? schedule.intended(connection, k) : now;
        // Always through the timer, also when late: an answer that came synchronously must not recurse.
        ticker.schedule(intended, () -> send(connection, k, intended));
    }

    private void send(int connection, long k, long intended) {
        long sent = ticker.nanoTime();
        long lag = sent - intended;
        if (lag > lagSinceLook.get()) {
            lagSinceLook.accumulateAndGet(lag, Math::max);
            maxLag.accumulateAndGet(lag, Math::max);
        }
        caller.call(connection, outcome -> {
            long done = ticker.nanoTime();
            latencies[connection].record(outcome, intended, sent, done);
            lastDone[connection] = done;
            completed.incrementAndGet();
            if (!outcome.ok()) {
                failed.incrementAndGet();
            }
            next(connection, k + 1);
        });
    }

    /** Requests answered (or failed) so far, readable from any thread (the progress line). */
    public long completed() {
        return completed.get();
    }

    public long failed() {
        return failed.get();
    }

    /** Requests due before the end that were not sent because their connection was still behind at the end. */
    public long unsent() {
        return unsent.get();
    }

    /**
     * The latest any request went out behind its intended time since the previous call: a load generator (or a
     * connection waiting for a slow answer) that falls behind shows here first.
     */
    public long takeMaxSendLagNanos() {
        return lagSinceLook.getAndSet(0);
    }

    /** The latest any request of the run went out behind its intended time. */
    public long maxSendLagNanos() {
        return maxLag.get();
    }

    /** All connections' records merged; call after {@code onFinished}. */
    public Latencies latencies() {
        Latencies all = new Latencies();
        for (Latencies l : latencies) {
            all.add(l);
        }
        return all;
    }

    /** When the last answer came, on the ticker's clock; call after {@code onFinished}. */
    public long lastAnswerNanos() {
        long last = schedule.startNanos();
        for (long d : lastDone) {
            last = Math.max(last, d);
        }
        return last;
    }
}
