package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * flow_config.level (flow.h's FLOW_AGG_*): how much the datapath reports, after Cilium's
 * {@code bpf.monitorAggregation}, named as that setting's values. See flow.h for what each level reports.
 */
public enum Aggregation implements AbiConstant {
    DISABLED(0, "disabled"),
    NONE(1, "none"),
    LOW(2, "low"),
    MEDIUM(3, "medium"),
    MAXIMUM(4, "maximum");

    private static final Lookup<Aggregation> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    Aggregation(int value, String displayName) {
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
    public static Optional<Aggregation> of(int value) {
        return LOOKUP.find(value);
    }

    /** The constant, or null for a value the datapath does not define (for switches: {@code case null}). */
    public static Aggregation orNull(int value) {
        return LOOKUP.orNull(value);
    }
}
