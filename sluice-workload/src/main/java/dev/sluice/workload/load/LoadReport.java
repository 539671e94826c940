package dev.sluice.workload.load;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/** The text summary of a run, laid out as fortio prints its own (durations in seconds). */
public final class LoadReport {
    private LoadReport() {
    }

    /** The line printed when a run starts. */
    public static String starting(LoadSpec spec) {
        Schedule schedule = Schedule.of(spec, 0);
        String rate = spec.openLoop() ? number(spec.qps()) + " qps" : "max qps (closed loop)";
        String calls = spec.openLoop()
                ? String.format(Locale.ROOT, ": %s calls each (total %d)",
                number(schedule.plannedRequests() / (double) spec.connections()), schedule.plannedRequests())
                : "";
        String warmup = spec.warmup().isPositive() ? " after a warm-up of " + goDuration(spec.warmup()) : "";
        return String.format(Locale.ROOT, "Starting at %s with %d connection(s) for %s%s, %s to %s%s",
                rate, spec.connections(), goDuration(spec.duration()), calls, spec.target().runType(),
                spec.target().destination(), warmup);
    }

    /** The summary of a finished run. */
    public static String summary(LoadResult r) {
        StringBuilder out = new StringBuilder();
        LoadResult.Extra extra = r.sluice();
        long requests = extra == null ? r.durationHistogram().count() + r.errors() : extra.requests();
        out.append(String.format(Locale.ROOT, "Ended after %s : %d calls. qps=%.5g%n",
                goDuration(Duration.ofNanos(r.actualDurationNanos())), requests, r.actualQps()));
        histogram(out, "Aggregated Function Time (corrected: from intended send time)", r.durationHistogram());
        if (extra != null) {
            histogram(out, "Uncorrected (from actual send time)", extra.uncorrected());
            out.append(String.format(Locale.ROOT, "Sends at most %.3f ms behind schedule%n", extra.maxSendLag() * 1e3));
            if (extra.unsent() > 0) {
                out.append(String.format(Locale.ROOT, "Unsent: %d of %d requests due were not sent before the end "
                        + "(their connections were still waiting for earlier answers)%n", extra.unsent(), extra.plannedRequests()));
            }
        }
        if (r.errors() > 0) {
            histogram(out, "Error cases", r.errorsDurationHistogram());
        } else {
            out.append("Error cases : no data\n");
        }
        String prefix = r.runType().startsWith("GRPC") ? r.runType().replace("GRPC ", "") + " " : "Code ";
        for (Map.Entry<String, Long> code : new java.util.TreeMap<>(r.retCodes()).entrySet()) {
            out.append(String.format(Locale.ROOT, "%s%s : %d (%.1f %%)%n", prefix, code.getKey(), code.getValue(),
                    requests == 0 ? 0.0 : 100.0 * code.getValue() / requests));
        }
        if (extra != null && !extra.errorSamples().isEmpty()) {
            out.append("First errors:\n");
            extra.errorSamples().forEach(e -> out.append("  ").append(e).append('\n'));
        }
        out.append(String.format(Locale.ROOT, "All done %d calls (plus %d warmup) %.3f ms avg, %.1f qps%n", requests,
                extra == null ? 0 : extra.warmupRequests(), r.durationHistogram().avg() * 1e3, r.actualQps()));
        return out.toString();
    }

    private static void histogram(StringBuilder out, String title, DurationHistogram h) {
        out.append(String.format(Locale.ROOT, "%s : count %d avg %.6g +/- %.4g min %.6g max %.6g sum %.6g%n",
                title, h.count(), h.avg(), h.stdDev(), h.min(), h.max(), h.sum()));
        for (DurationHistogram.Percentile p : h.percentiles()) {
            out.append(String.format(Locale.ROOT, "# target %s%% %.6g%n", number(p.percentile()), p.value()));
        }
    }

    /** A number without a needless ".0" ("1000", "99.9"). */
    static String number(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value)
                : String.valueOf(value);
    }

    /** A duration as Go prints one, as fortio writes {@code RequestedDuration}: "1m0s", "5s", "1.5s", "250ms". */
    static String goDuration(Duration d) {
        long nanos = d.toNanos();
        if (nanos == 0) {
            return "0s";
        }
        if (nanos < 1_000_000_000L) {
            return number(nanos / 1e6) + "ms";
        }
        long hours = d.toHours();
        long minutes = d.toMinutesPart();
        String seconds = java.math.BigDecimal.valueOf(d.toSecondsPart()).add(java.math.BigDecimal.valueOf(d.toNanosPart(), 9))
                .stripTrailingZeros().toPlainString();
        StringBuilder s = new StringBuilder();
        if (hours > 0) {
            s.append(hours).append('h');
        }
        if (hours > 0 || minutes > 0) {
            s.append(minutes).append('m');
        }
        return s.append(seconds).append('s').toString();
    }
}
