package dev.sluice.l7.route;

import java.util.Objects;

/**
 * One backend of a cluster: where the proxy connects.
 *
 * @param pod the pod's {@code namespace/name}, or "" for an address written in the configuration
 */
public record Endpoint(String address, int port, String pod) {
    public Endpoint {
        Objects.requireNonNull(address, "address");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be 1..65535, got " + port);
        }
        pod = pod == null ? "" : pod;
    }

    /** {@code address:port}, the key of a backend's health and connection pool. */
    public String key() {
        return address + ":" + port;
    }

    @Override
    public String toString() {
        return pod.isEmpty() ? key() : key() + " (" + pod + ")";
    }
}
