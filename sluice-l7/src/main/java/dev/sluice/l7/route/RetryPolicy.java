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
 */
public record RetryPolicy(Set<String> retryOn, int numRetries, Duration perTryTimeout, Set<Integer> retriableStatusCodes) {
    /** The request body the proxy keeps for a retry; a longer one is not retried (Envoy's buffer limit, smaller). */
    public static final int BUFFER_LIMIT = 64 * 1024;
    /** The conditions Sluice implements. */
    public static final Set<String> CONDITIONS = Set.of("5xx", "gateway-error", "reset", "connect-failure",
            "retriable-status-codes", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable");

    public RetryPolicy {
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
