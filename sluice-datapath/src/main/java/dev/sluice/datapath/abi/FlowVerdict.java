package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * flow_event.verdict (flow.h's FLOW_VERDICT_*): Hubble's Verdict numbers and names.
 */
public enum FlowVerdict implements AbiConstant {
    FORWARDED(1, "FORWARDED"),
    DROPPED(2, "DROPPED"),
    TRANSLATED(7, "TRANSLATED");

    private static final Lookup<FlowVerdict> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    FlowVerdict(int value, String displayName) {
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
    public static Optional<FlowVerdict> of(int value) {
        return LOOKUP.find(value);
    }

    /** The constant, or null for a value the datapath does not define (for switches: {@code case null}). */
    public static FlowVerdict orNull(int value) {
        return LOOKUP.orNull(value);
    }

    /** The display name, or {@code VERDICT_UNKNOWN} for a value the datapath does not define. */
    public static String displayName(int value) {
        FlowVerdict c = LOOKUP.orNull(value);
        return c != null ? c.displayName : "VERDICT_UNKNOWN";
    }
}
