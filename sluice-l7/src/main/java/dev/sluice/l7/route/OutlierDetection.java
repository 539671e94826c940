package dev.sluice.l7.route;

import java.time.Duration;
import java.util.Objects;

/**
 * Envoy's cluster {@code outlier_detection}, the part Sluice implements: a backend that answers
 * {@code consecutive5xx} 5xx responses in a row (a gRPC status counts as Envoy maps it to HTTP: UNAVAILABLE is 503,
 * INTERNAL 500...) is ejected for {@code baseEjectionTime} times the number of times it was ejected (at most
 * {@link #MAX_EJECTION_TIME}), unless that would eject more than {@code maxEjectionPercent} of the cluster's
 * backends (one may always be ejected, as in Envoy).
 *
 * @param consecutive5xx Envoy's {@code consecutive_5xx} (default 5)
 * @param baseEjectionTime Envoy's {@code base_ejection_time} (default 30 s)
 * @param maxEjectionPercent Envoy's {@code max_ejection_percent} (default 10)
 */
public record OutlierDetection(int consecutive5xx, Duration baseEjectionTime, int maxEjectionPercent) {
    /** Envoy's {@code max_ejection_time} default: an ejection never lasts longer. */
    public static final Duration MAX_EJECTION_TIME = Duration.ofSeconds(300);

    public OutlierDetection {
        Objects.requireNonNull(baseEjectionTime, "baseEjectionTime");
        if (consecutive5xx < 1) {
            throw new IllegalArgumentException("consecutive_5xx must be at least 1, got " + consecutive5xx);
        }
        if (baseEjectionTime.isNegative() || baseEjectionTime.isZero()) {
            throw new IllegalArgumentException("base_ejection_time must be above 0");
        }
        if (maxEjectionPercent < 0 || maxEjectionPercent > 100) {
            throw new IllegalArgumentException("max_ejection_percent must be 0..100, got " + maxEjectionPercent);
        }
    }

    /** How long the {@code n}-th ejection (from 1) of a backend lasts. */
    public Duration ejectionTime(int n) {
        Duration d = baseEjectionTime.multipliedBy(Math.max(1, n));
        return d.compareTo(MAX_EJECTION_TIME) > 0 ? MAX_EJECTION_TIME : d;
    }

    /** How many of {@code backends} may be ejected at once: the percentage, but at least one. */
    public int maxEjected(int backends) {
        return Math.max(1, backends * maxEjectionPercent / 100);
    }

    /** Envoy's mapping of a gRPC status to the HTTP status outlier detection counts (Grpc::Utility::grpcToHttpStatus). */
    public static int httpStatusOfGrpc(int grpcStatus) {
        return switch (grpcStatus) {
            case 0 -> 200;
            case 1 -> 499;
            case 3, 9, 11 -> 400;
            case 4 -> 504;
            case 5 -> 404;
            case 6, 10 -> 409;
            case 7 -> 403;
            case 8 -> 429;
            case 12 -> 501;
            case 14 -> 503;
            case 16 -> 401;
            default -> 500; // UNKNOWN, INTERNAL, DATA_LOSS, anything else
        };
    }
}
