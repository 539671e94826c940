package dev.sluice.proxy;

/**
 * Where the proxy reports each request once it is over: one call per request, from the event loop that served it.
 * An implementation must not block; {@link AccessLogQueue} puts a bounded queue and its own thread in front of a
 * sink that may be slow.
 */
@FunctionalInterface
public interface AccessLog {
    void record(AccessRecord record);

    /** Nothing is recorded. */
    AccessLog NONE = record -> { };
}
