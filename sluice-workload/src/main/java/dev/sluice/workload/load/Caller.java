package dev.sluice.workload.load;

import java.util.function.Consumer;

/**
 * Sends one request on one of the run's connections. Implementations are asynchronous (gRPC's and Netty's event
 * loops): {@link #call} returns at once and {@code done} is called exactly once, later, from any thread.
 */
public interface Caller extends AutoCloseable {
    void call(int connection, Consumer<Outcome> done);

    @Override
    void close();

    /**
     * How one request ended.
     *
     * @param code as fortio's {@code RetCodes} keys: the HTTP status ("200", "503"), the health status ("SERVING"),
     *             "OK" for a ping, the gRPC status code name of a failed call ("UNAVAILABLE", "DEADLINE_EXCEEDED"),
     *             or "-1" for an HTTP request that got no answer (connect error, reset, timeout)
     * @param ok   whether the request succeeded; a failure goes to the errors histogram
     * @param error the failure's description, for the first few errors in the result; null on success
     */
    record Outcome(String code, boolean ok, String error) {
        public static Outcome success(String code) {
            return new Outcome(code, true, null);
        }

        public static Outcome failure(String code, String error) {
            return new Outcome(code, false, error);
        }
    }
}
