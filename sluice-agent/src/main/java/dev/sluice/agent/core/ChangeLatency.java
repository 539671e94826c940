package dev.sluice.agent.core;

import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * How long the agent took to bring its maps in line with a change: from the source learning of it (the lab:
 * inotify waking it, before it reads and compares the state) to the last subsystem returning (its map
 * writes done). Kept for the last
 * 1,024 changes of each sort (pods, Services, policies and other objects), for status and the
 * change-latency benchmark. The initial sync is left out: it programs everything at once.
 */
public final class ChangeLatency {
    private static final int WINDOW = 1024;

    /** What a change was about, for its latency: the most specific kind it touched. */
    public enum Sort {
        PODS, SERVICES, POLICIES, OTHER;

        static Sort of(ClusterChange change) {
            Set<Kind> kinds = change.kinds();
            if (kinds.equals(Set.of(Kind.POD))) {
                return PODS;
            }
            if (kinds.equals(Set.of(Kind.SERVICE))) {
                return SERVICES;
            }
            if (kinds.equals(Set.of(Kind.OBJECT))) {
                return POLICIES;
            }
            return OTHER;
        }
    }

    private final Map<Sort, Window> windows = new LinkedHashMap<>();

    synchronized void record(ClusterChange change, long elapsedNanos) {
        windows.computeIfAbsent(Sort.of(change), s -> new Window()).record(elapsedNanos);
    }

    /** How many changes of {@code sort} were timed. */
    public synchronized long count(Sort sort) {
        Window w = windows.get(sort);
        return w == null ? 0 : w.count;
    }

    /** How many changes were timed. */
    public synchronized long count() {
        return windows.values().stream().mapToLong(w -> w.count).sum();
    }

    /** The {@code q}-quantile (0..1) of the last changes of {@code sort}, in milliseconds; 0 with none. */
    public synchronized double quantileMillis(Sort sort, double q) {
        Window w = windows.get(sort);
        return w == null ? 0 : w.quantileMillis(q);
    }

    /** {@code pods: 12 changes, p50 1.2 ms, p99 4.5 ms, max 5.0 ms; policies: ...}. */
    public synchronized String describe() {
        if (windows.isEmpty()) {
            return "no change since the initial sync";
        }
        List<String> parts = windows.entrySet().stream().map(e -> String.format(Locale.ROOT,
                "%s: %d change(s), p50 %.1f ms, p99 %.1f ms, max %.1f ms", e.getKey().name().toLowerCase(Locale.ROOT),
                e.getValue().count, e.getValue().quantileMillis(0.5), e.getValue().quantileMillis(0.99),
                e.getValue().quantileMillis(1.0))).toList();
        return "change to maps " + String.join("; ", parts) + " (last " + WINDOW + " of each)";
    }

    /** Every sort's count and recent samples, for the status file. */
    public synchronized Map<String, dev.sluice.agent.api.AgentStatus.Latencies> snapshot() {
        Map<String, dev.sluice.agent.api.AgentStatus.Latencies> out = new LinkedHashMap<>();
        windows.forEach((sort, w) -> out.put(sort.name().toLowerCase(Locale.ROOT),
                new dev.sluice.agent.api.AgentStatus.Latencies(w.count, w.recentMillis())));
        return out;
    }

    private static final class Window {
        private final long[] nanos = new long[WINDOW];
        private long count;

        void record(long elapsed) {
            nanos[(int) (count++ % WINDOW)] = elapsed;
        }

        List<Double> recentMillis() {
            int n = (int) Math.min(count, WINDOW);
            List<Double> out = new java.util.ArrayList<>(n);
            for (long i = count - n; i < count; i++) {
                out.add(Math.round(nanos[(int) (i % WINDOW)] / 1e4) / 100.0);
            }
            return out;
        }

        double quantileMillis(double q) {
            int n = (int) Math.min(count, WINDOW);
            if (n == 0) {
                return 0;
            }
            long[] sorted = Arrays.copyOf(nanos, n);
            Arrays.sort(sorted);
            int index = (int) Math.ceil(q * n) - 1;
            return sorted[Math.max(0, Math.min(n - 1, index))] / 1e6;
        }
    }
}
