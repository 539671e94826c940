package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * flow_event.type (flow.h's FLOW_EV_*), named as Hubble's event types. A Service translation seen at the
 * socket (ifindex 0) is Hubble's {@code trace-sock}; the enricher decides that.
 */
public enum FlowEventType implements AbiConstant {
    POLICY_VERDICT(1, "policy-verdict"),
    DROP(2, "drop"),
    TRACE(3, "trace"),
    CONN_END(4, "trace"),
    SERVICE_XLATE(5, "trace"),
    /** A connection between two pods of the node was handed to the socket bypass (sock_bypass.bpf.c, ifindex 0). */
    SOCK_BYPASS(6, "trace");

    private static final Lookup<FlowEventType> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    FlowEventType(int value, String displayName) {
        this.value = value;
        this.displayName = displayName;
    }

    @Override
    public int value() {
        return value;
    }

    @Override
    public String displayName() {
        return displayName;
    }

    /** The constant with this wire value; empty for a value the datapath does not define. */
    public static Optional<FlowEventType> of(int value) {
        return LOOKUP.find(value);
    }

    /** The constant, or null for a value the datapath does not define (for switches: {@code case null}). */
    public static FlowEventType orNull(int value) {
        return LOOKUP.orNull(value);
    }

    /** The display name, or {@code unknown} for a value the datapath does not define. */
    public static String displayName(int value) {
        FlowEventType c = LOOKUP.orNull(value);
        return c != null ? c.displayName : "unknown";
    }
}
