package dev.sluice.workload.load;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What one {@code sluice load} run asks for, as fortio's flags say it: a target, a rate over a number of
 * connections for a duration, the percentiles to report and a per-request timeout.
 *
 * @param qps         requests per second over all connections; 0 runs closed loop at the maximum rate
 * @param connections connections ("threads" in fortio); each sends one request at a time on its own schedule
 * @param percentiles in percent, e.g. 50, 99.9
 * @param labels      free text copied to the result's {@code Labels}
 * @param warmup      a run at the same rate before the measured one, not counted (0: none): the first seconds of a
 *                    new JVM (JIT) and of new connections are slow, and would be measured as the system's latency
 */
public record LoadSpec(Target target, double qps, Duration duration, int connections, List<Double> percentiles,
                       Duration timeout, String labels, Duration warmup) {
    public static final List<Double> DEFAULT_PERCENTILES = List.of(50.0, 75.0, 90.0, 99.0, 99.9);

    public LoadSpec {
        Objects.requireNonNull(target, "target");
        if (!(qps >= 0) || Double.isInfinite(qps)) {
            throw new IllegalArgumentException("-qps must be 0 (maximum rate) or more, got " + qps);
        }
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("-t must be longer than 0, got " + duration);
        }
        if (connections < 1) {
            throw new IllegalArgumentException("-c must be at least 1, got " + connections);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("-timeout must be longer than 0, got " + timeout);
        }
        for (double p : percentiles) {
            if (!(p > 0 && p <= 100)) {
                throw new IllegalArgumentException("-p percentiles must be in (0, 100], got " + p);
            }
        }
        percentiles = List.copyOf(percentiles);
        warmup = warmup == null ? Duration.ZERO : warmup;
        if (warmup.isNegative()) {
            throw new IllegalArgumentException("-warmup must be 0 or more, got " + warmup);
        }
        labels = labels == null ? "" : labels;
    }

    /** As fortio's flags give it: no warm-up beyond one request per connection. */
    public LoadSpec(Target target, double qps, Duration duration, int connections, List<Double> percentiles,
                    Duration timeout, String labels) {
        this(target, qps, duration, connections, percentiles, timeout, labels, Duration.ZERO);
    }

    /** Whether requests follow a schedule (open loop) rather than go out as fast as answers come back. */
    public boolean openLoop() {
        return qps > 0;
    }

    /** What the requests go to. */
    public sealed interface Target permits Grpc, Http {
        /** fortio's {@code RunType}. */
        String runType();

        /** Where the requests go, for the result's {@code Destination}/{@code URL}. */
        String destination();
    }

    /**
     * gRPC over h2c: {@code grpc.health.v1.Health/Check} as fortio's {@code -grpc}, or with {@code ping} the echo
     * workload's {@code sluice.echo.v1.Echo/Ping} carrying {@code payloadSize} bytes (echoed back).
     */
    public record Grpc(String host, int port, boolean ping, int payloadSize) implements Target {
        public Grpc {
            if (payloadSize < 0) {
                throw new IllegalArgumentException("-payload-size must be 0 or more, got " + payloadSize);
            }
            if (payloadSize > 0 && !ping) {
                throw new IllegalArgumentException("-payload-size needs -ping (a health check carries no payload)");
            }
        }

        @Override
        public String runType() {
            return ping ? "GRPC Ping" : "GRPC Health";
        }

        @Override
        public String destination() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /** HTTP/1.1 GETs of one URL over keep-alive connections. */
    public record Http(URI url) implements Target {
        public Http {
            if (!"http".equalsIgnoreCase(url.getScheme()) || url.getHost() == null) {
                throw new IllegalArgumentException("\"" + url + "\" is not an http://HOST[:PORT]/path URL");
            }
        }

        public int port() {
            return url.getPort() < 0 ? 80 : url.getPort();
        }

        /** The request target: path and query, "/" when empty. */
        public String pathAndQuery() {
            String path = url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath();
            return url.getRawQuery() == null ? path : path + "?" + url.getRawQuery();
        }

        @Override
        public String runType() {
            return "HTTP";
        }

        @Override
        public String destination() {
            return url.toString();
        }
    }
}
