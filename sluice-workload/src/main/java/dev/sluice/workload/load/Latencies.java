package dev.sluice.workload.load;

import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * What a set of requests measured: latency from the intended send time (corrected for coordinated omission), from
 * the actual send time (uncorrected), the failed requests' durations, and the count of each return code. One per
 * connection while running (a connection has one request at a time, so its recorder needs no lock), merged at
 * the end.
 */
public final class Latencies {
    /** Longest latency kept exactly: an hour; longer ones are clamped to it (a run never lasts that long). */
    static final long HIGHEST_NANOS = TimeUnit.HOURS.toNanos(1);
    static final int DIGITS = 3;
    private static final int MAX_ERROR_SAMPLES = 10;

    private final Histogram corrected = newHistogram();
    private final Histogram uncorrected = newHistogram();
    private final Histogram errors = newHistogram();
    private final Map<String, Long> codes = new TreeMap<>();
    private final List<String> errorSamples = new ArrayList<>();

    static Histogram newHistogram() {
        return new Histogram(1, HIGHEST_NANOS, DIGITS);
    }

    /** Records a request meant to go out at {@code intended}, sent at {@code sent}, ended at {@code done}. */
    public void record(Caller.Outcome outcome, long intended, long sent, long done) {
        long fromIntended = clamp(done - intended);
        long fromSent = clamp(done - sent);
        if (outcome.ok()) {
            corrected.recordValue(fromIntended);
            uncorrected.recordValue(fromSent);
        } else {
            errors.recordValue(fromSent);
            if (errorSamples.size() < MAX_ERROR_SAMPLES && outcome.error() != null) {
                errorSamples.add(outcome.error());
            }
        }
        codes.merge(outcome.code(), 1L, Long::sum);
    }

    private static long clamp(long nanos) {
        return Math.clamp(nanos, 1, HIGHEST_NANOS);
    }

    /** Adds {@code other}'s records to these. */
    public void add(Latencies other) {
        corrected.add(other.corrected);
        uncorrected.add(other.uncorrected);
        errors.add(other.errors);
        other.codes.forEach((code, n) -> codes.merge(code, n, Long::sum));
        for (String e : other.errorSamples) {
            if (errorSamples.size() < MAX_ERROR_SAMPLES) {
                errorSamples.add(e);
            }
        }
    }

    /** Successful requests, latency from the intended send time. */
    public Histogram corrected() {
        return corrected;
    }

    /** Successful requests, latency from the actual send time. */
    public Histogram uncorrected() {
        return uncorrected;
    }

    /** Failed requests, from the actual send time to the failure. */
    public Histogram errors() {
        return errors;
    }

    public Map<String, Long> codes() {
        return Map.copyOf(codes);
    }

    public List<String> errorSamples() {
        return List.copyOf(errorSamples);
    }

    public long requests() {
        return corrected.getTotalCount() + errors.getTotalCount();
    }
}
