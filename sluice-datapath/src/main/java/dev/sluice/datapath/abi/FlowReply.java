package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * flow_event.reply (flow.h's FLOW_REPLY_*): whether the packet travels against its connection's direction.
 * Named by the arrow {@code hubble observe} prints between the endpoints.
 */
public enum FlowReply implements AbiConstant {
    NO(0, "->"),
    YES(1, "<-"),
    UNKNOWN(2, "<>");

    private static final Lookup<FlowReply> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    FlowReply(int value, String displayName) {
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
    public static Optional<FlowReply> of(int value) {
        return LOOKUP.find(value);
    }

    /** The constant, or null for a value the datapath does not define (for switches: {@code case null}). */
    public static FlowReply orNull(int value) {
        return LOOKUP.orNull(value);
    }

    /** The display name, or {@code <>} for a value the datapath does not define. */
    public static String displayName(int value) {
        FlowReply c = LOOKUP.orNull(value);
        return c != null ? c.displayName : "<>";
    }
}
