package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * Directions, as seen from the local endpoint: policy.h's POLICY_INGRESS / POLICY_EGRESS (policy keys, conntrack
 * tuples, drop counters) and flow.h's FLOW_DIR_* (flow events, which add UNKNOWN), the same numbers. Named as
 * {@code cilium bpf policy get} prints them; {@link #ctName()} as {@code cilium bpf ct list} does.
 */
public enum Direction implements AbiConstant {
    INGRESS(0, "Ingress"),
    EGRESS(1, "Egress"),
    UNKNOWN(2, "Unknown");

    private static final Lookup<Direction> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    Direction(int value, String displayName) {
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
    public static Optional<Direction> of(int value) {
        return LOOKUP.find(value);
    }

    /** The constant, or null for a value the datapath does not define (for switches: {@code case null}). */
    public static Direction orNull(int value) {
        return LOOKUP.orNull(value);
    }

    /** {@code IN}, {@code OUT} (an entry of {@code cilium bpf ct list}), or {@code ?} when unknown. */
    public String ctName() {
        return switch (this) {
            case INGRESS -> "IN";
            case EGRESS -> "OUT";
            case UNKNOWN -> "?";
        };
    }

    /** The other way; UNKNOWN stays unknown. */
    public Direction reverse() {
        return switch (this) {
            case INGRESS -> EGRESS;
            case EGRESS -> INGRESS;
            case UNKNOWN -> UNKNOWN;
        };
    }

    /** The display name, or {@code Unknown} for a value the datapath does not define. */
    public static String displayName(int value) {
        Direction c = LOOKUP.orNull(value);
        return c != null ? c.displayName : "Unknown";
    }
}
