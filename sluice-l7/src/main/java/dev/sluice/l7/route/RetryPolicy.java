package dev.sluice.l7.route;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * Envoy's route {@code retry_policy}, the part Sluice implements. A request is retried only while its whole body is
 * held by the proxy ({@link #BUFFER_LIMIT} bytes at most) and no byte of a response was passed on.
 *
 * @param retryOn Envoy's conditions: {@code 5xx}, {@code gateway-error}, {@code reset}, {@code connect-failure},
 *                {@code retriable-status-codes}, and for gRPC (a trailers-only response's {@code grpc-status})
 *                {@code cancelled}, {@code deadline-exceeded}, {@code internal}, {@code resource-exhausted},
 *                {@code unavailable}
 * @param numRetries retries after the first try (Envoy's default: 1)
 * @param perTryTimeout how long one try may wait for its response to start; zero for none (the route's timeout
 *                      still bounds them all)
 * @param retriableStatusCodes HTTP statuses retried with {@code retriable-status-codes}
 * @param backOff the wait before each retry (Envoy's {@code retry_back_off}; Envoy's default when unset)
 */
public record RetryPolicy(Set<String> retryOn, int numRetries, Duration perTryTimeout, Set<Integer> retriableStatusCodes,
                          BackOff backOff) {
    /** The request body the proxy keeps for a retry; a longer one is not retried (Envoy's buffer limit, smaller). */
    public static final int BUFFER_LIMIT = 64 * 1024;
    /** The conditions Sluice implements. */
    public static final Set<String> CONDITIONS = Set.of("5xx", "gateway-error", "reset", "connect-failure",
            "retriable-status-codes", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable");

    /**
     * Envoy's fully jittered exponential back-off: before retry {@code n} (1, 2, ...) the proxy waits a uniformly
     * random time in {@code [0, min(max, base * (2^n - 1))]}. Envoy's default: base 25 ms, max 10 times the base.
     */
    public record BackOff(Duration base, Duration max) {
        public static final BackOff ENVOY_DEFAULT = new BackOff(Duration.ofMillis(25), Duration.ofMillis(250));

        public BackOff {
            Objects.requireNonNull(base, "base");
            Objects.requireNonNull(max, "max");
            if (base.isNegative() || base.isZero()) {
                throw new IllegalArgumentException("retry back-off base interval must be above 0, got " + base.toMillis() + " ms");
            }
            if (max.compareTo(base) < 0) {
                throw new IllegalArgumentException("retry back-off max interval (" + max.toMillis()
                        + " ms) must not be below its base interval (" + base.toMillis() + " ms)");
            }
        }

        /** Envoy's default max interval for a base: ten times it. */
        public static BackOff withBase(Duration base) {
            return new BackOff(base, base.multipliedBy(10));
        }

        /** The most retry {@code n} (from 1) may wait: {@code min(max, base * (2^n - 1))}. */
        public Duration ceiling(int n) {
            long factor = n >= 31 ? Long.MAX_VALUE : (1L << Math.max(1, n)) - 1;
            long nanos = base.toNanos() > max.toNanos() / factor ? max.toNanos() : base.toNanos() * factor;
            return Duration.ofNanos(Math.min(nanos, max.toNanos()));
        }

        /** A wait before retry {@code n}: uniform in {@code [0, ceiling(n)]} (full jitter). */
        public Duration next(int n, java.util.random.RandomGenerator random) {
            return Duration.ofNanos(random.nextLong(ceiling(n).toNanos() + 1));
        }
    }

    /** With Envoy's default back-off. */
    public RetryPolicy(Set<String> retryOn, int numRetries, Duration perTryTimeout, Set<Integer> retriableStatusCodes) {
        this(retryOn, numRetries, perTryTimeout, retriableStatusCodes, BackOff.ENVOY_DEFAULT);
    }

    public RetryPolicy {
        Objects.requireNonNull(backOff, "backOff");
        retryOn = Set.copyOf(retryOn);
        retriableStatusCodes = Set.copyOf(retriableStatusCodes);
        Objects.requireNonNull(perTryTimeout, "perTryTimeout");
        for (String condition : retryOn) {
            if (!CONDITIONS.contains(condition)) {
                throw new IllegalArgumentException("retry condition \"" + condition + "\" is not supported");
            }
        }
        if (numRetries < 0) {
            throw new IllegalArgumentException("numRetries must be >= 0, got " + numRetries);
        }
    }

    /** Whether a response that starts with HTTP {@code status} (and, for a trailers-only gRPC one, {@code grpcStatus}, else -1) is retried. */
    public boolean retriable(int status, int grpcStatus) {
        if (status >= 500 && retryOn.contains("5xx")) {
            return true;
        }
        if ((status == 502 || status == 503 || status == 504) && retryOn.contains("gateway-error")) {
            return true;
        }
        if (retryOn.contains("retriable-status-codes") && retriableStatusCodes.contains(status)) {
            return true;
        }
        return switch (grpcStatus) {
            case 1 -> retryOn.contains("cancelled");
            case 4 -> retryOn.contains("deadline-exceeded");
            case 8 -> retryOn.contains("resource-exhausted");
            case 13 -> retryOn.contains("internal");
            case 14 -> retryOn.contains("unavailable");
            default -> false;
        };
    }

    /** Whether a stream reset, a lost connection or a try that timed out before its response started is retried. */
    public boolean retriesResets() {
        return retryOn.contains("reset") || retryOn.contains("5xx") || retryOn.contains("gateway-error");
    }
}
