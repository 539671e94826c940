package dev.sluice.proxy;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the proxy knows of each backend across event loops and configuration changes: its active requests (for
 * least-request) and whether it is ejected (a connect failed or its connection was lost under requests: no
 * request is sent to it until the ejection ends, then the next request tries it again).
 */
final class Backends {
    private final Duration ejection;
    private final ProxyStats stats;
    private final ConcurrentHashMap<String, State> states = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> roundRobin = new ConcurrentHashMap<>();

    static final class State {
        final AtomicInteger active = new AtomicInteger();
        volatile long ejectedUntil;
        volatile String lastFailure = "";
        /** 5xx responses in a row (outlier detection); reset by any other response. */
        final AtomicInteger consecutive5xx = new AtomicInteger();
        /** How many times outlier detection ejected it: the next ejection lasts that many base times more. */
        final AtomicInteger outlierEjections = new AtomicInteger();
    }

    Backends(Duration ejection, ProxyStats stats) {
        this.ejection = ejection;
        this.stats = stats;
    }

    State state(Endpoint endpoint) {
        return states.computeIfAbsent(endpoint.key(), k -> new State());
    }

    boolean healthy(Endpoint endpoint, long now) {
        State s = states.get(endpoint.key());
        return s == null || s.ejectedUntil - now <= 0;
    }

    void eject(Endpoint endpoint, String why) {
        State s = state(endpoint);
        long now = System.nanoTime();
        if (s.ejectedUntil - now <= 0) {
            stats.ejections.increment();
        }
        s.lastFailure = why;
        s.ejectedUntil = now + ejection.toNanos();
    }

    /**
     * A response from {@code endpoint} of {@code cluster} (its HTTP status; a gRPC status mapped as Envoy does):
     * outlier detection's count of consecutive 5xx, which ejects the backend at the cluster's threshold unless too
     * many of the cluster's backends are ejected already.
     */
    void response(Cluster cluster, Endpoint endpoint, int httpStatus) {
        var od = cluster.outlierDetection();
        if (od == null || httpStatus <= 0) {
            return;
        }
        State s = state(endpoint);
        if (httpStatus < 500) {
            s.consecutive5xx.set(0);
            return;
        }
        if (s.consecutive5xx.incrementAndGet() < od.consecutive5xx()) {
            return;
        }
        s.consecutive5xx.set(0);
        long now = System.nanoTime();
        long ejected = cluster.endpoints().stream().filter(e -> !healthy(e, now)).count();
        if (!healthy(endpoint, now) || ejected >= od.maxEjected(cluster.endpoints().size())) {
            return; // Envoy's max_ejection_percent: the rest keep serving
        }
        Duration time = od.ejectionTime(s.outlierEjections.incrementAndGet());
        stats.ejections.increment();
        stats.outlierEjections.increment();
        s.lastFailure = od.consecutive5xx() + " consecutive 5xx from " + endpoint + " (outlier detection; ejected for "
                + time.toMillis() + " ms)";
        s.ejectedUntil = now + time.toNanos();
    }

    /** A healthy backend of {@code cluster} not in {@code tried}, by the cluster's policy; null if there is none. */
    Endpoint pick(Cluster cluster, Set<String> tried) {
        var endpoints = cluster.endpoints();
        int n = endpoints.size();
        if (n == 0) {
            return null;
        }
        long now = System.nanoTime();
        var candidates = endpoints.stream().filter(e -> !tried.contains(e.key()) && healthy(e, now)).toList();
        if (candidates.isEmpty()) {
            return null;
        }
        if (cluster.lbPolicy() == LbPolicy.ROUND_ROBIN) {
            // In turn over the backends that can be had, so that an ejected one's share is spread evenly.
            int turn = roundRobin.computeIfAbsent(cluster.name(), k -> new AtomicInteger()).getAndIncrement();
            return candidates.get(Math.floorMod(turn, candidates.size()));
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        Endpoint a = candidates.get(random.nextInt(candidates.size()));
        if (cluster.lbPolicy() == LbPolicy.RANDOM || candidates.size() == 1) {
            return a;
        }
        Endpoint b = candidates.get(random.nextInt(candidates.size()));
        return state(b).active.get() < state(a).active.get() ? b : a;
    }

    /** Why no backend of {@code cluster} can be had, for the 503's message. */
    String unavailable(Cluster cluster) {
        if (cluster.endpoints().isEmpty()) {
            return "cluster " + cluster.name() + " has no endpoints (no ready pod)";
        }
        long now = System.nanoTime();
        long ejected = cluster.endpoints().stream().filter(e -> !healthy(e, now)).count();
        String last = cluster.endpoints().stream().map(e -> states.get(e.key())).filter(s -> s != null && !s.lastFailure.isEmpty())
                .map(s -> s.lastFailure).findFirst().orElse("");
        return "no healthy backend in cluster " + cluster.name() + " (" + cluster.endpoints().size() + " endpoints, "
                + ejected + " ejected" + (last.isEmpty() ? "" : "; last failure: " + last) + ")";
    }
}
