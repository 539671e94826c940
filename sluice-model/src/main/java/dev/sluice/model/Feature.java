package dev.sluice.model;

import java.util.Objects;

/**
 * What became of one feature a values file asks for, e.g. {@code Encryption UNAVAILABLE: WireGuard requested
 * but unavailable: CONFIG_WIREGUARD is not set in this kernel; traffic between nodes is NOT encrypted}.
 */
public record Feature(String name, State state, String detail) {
    public enum State {
        /** Sluice provides it. */
        ENABLED,
        /** The values turn it off. */
        DISABLED,
        /** Asked for, but this machine lacks what it needs (a kernel module, for instance). */
        UNAVAILABLE,
        /** Asked for, but Sluice does not have it by design. */
        NOT_SUPPORTED
    }

    public Feature {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(detail, "detail");
    }

    @Override
    public String toString() {
        return name + " " + state + ": " + detail;
    }
}
