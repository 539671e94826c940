package dev.sluice.workload.load;

/**
 * When each request is meant to go out. Open loop: every connection has its own constant rate (qps / c), and
 * connection {@code i} starts {@code i/c} of an interval after connection 0, so that together they send evenly
 * spaced requests rather than bursts of c. Request k of a connection is intended for
 * {@code start + offset(i) + k * interval}; a request sent late (because the previous answer on that connection
 * came late) still counts its latency from that intended time, which corrects for coordinated omission.
 * Closed loop ({@code intervalNanos == 0}): a request goes out when the previous answer comes back.
 *
 * @param startNanos    the run's start on the {@link Ticker}'s clock
 * @param intervalNanos time between two requests of one connection; 0 for closed loop
 * @param graceNanos    how long after the end a request due before it may still go out late (open loop): a
 *                      connection waiting for a slow answer at the end sends what it owes until then, not after
 */
public record Schedule(long startNanos, long durationNanos, int connections, long intervalNanos, long graceNanos) {
    public Schedule {
        if (connections < 1 || durationNanos <= 0 || intervalNanos < 0 || graceNanos < 0) {
            throw new IllegalArgumentException("bad schedule: " + connections + " connections, " + durationNanos
                    + " ns, interval " + intervalNanos + " ns");
        }
    }

    /** The schedule for {@code spec} starting at {@code startNanos}; late requests may go out up to a timeout after the end. */
    public static Schedule of(LoadSpec spec, long startNanos) {
        long interval = spec.openLoop() ? Math.max(1, Math.round(spec.connections() * 1e9 / spec.qps())) : 0;
        return new Schedule(startNanos, spec.duration().toNanos(), spec.connections(), interval, spec.timeout().toNanos());
    }

    /** After this, nothing more is sent (open loop: the end plus the grace; closed loop: the end). */
    public long lastSendNanos() {
        return openLoop() ? endNanos() + graceNanos : endNanos();
    }

    public boolean openLoop() {
        return intervalNanos > 0;
    }

    public long endNanos() {
        return startNanos + durationNanos;
    }

    /** The intended send time of request {@code k} (from 0) of connection {@code connection} (open loop only). */
    public long intended(int connection, long k) {
        return startNanos + connection * intervalNanos / connections + k * intervalNanos;
    }

    /** Whether request {@code k} of the connection is part of the run (open loop: intended before the end). */
    public boolean includes(int connection, long k, long nowNanos) {
        return openLoop() ? intended(connection, k) < endNanos() : nowNanos < endNanos();
    }

    /** How many requests of the connection, from request {@code k} on, are intended before the end (open loop). */
    public long remaining(int connection, long k) {
        if (!openLoop()) {
            return 0;
        }
        long first = intended(connection, k) - startNanos;
        return first >= durationNanos ? 0 : (durationNanos - first + intervalNanos - 1) / intervalNanos;
    }

    /** How many requests the whole run intends (open loop); -1 for closed loop, which has no fixed count. */
    public long plannedRequests() {
        if (!openLoop()) {
            return -1;
        }
        long total = 0;
        for (int c = 0; c < connections; c++) {
            long first = connection0Offset(c);
            if (first < durationNanos) {
                total += (durationNanos - first + intervalNanos - 1) / intervalNanos;
            }
        }
        return total;
    }

    private long connection0Offset(int connection) {
        return connection * intervalNanos / connections;
    }
}
