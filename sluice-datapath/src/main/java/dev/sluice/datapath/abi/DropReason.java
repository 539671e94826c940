package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * Drop reasons (policy.h's, flow.h's and prefilter.h's DROP_*), Cilium's numbers (but PREFILTER's), with Cilium's descriptions (pkg/monitor/api),
 * which Hubble prints as a flow's drop_reason_desc.
 */
public enum DropReason implements AbiConstant {
    INVALID_SMAC(130, "Invalid source mac"),
    INVALID_SIP(132, "Invalid source ip"),
    POLICY(133, "Policy denied"),
    INVALID(134, "Invalid packet"),
    UNKNOWN_L3(139, "Unsupported L3 protocol"),
    NO_SERVICE(158, "Service backend not found"),
    FRAG_NOT_FOUND(175, "First logical datagram fragment not found"),
    POLICY_DENY(181, "Policy denied by denylist"),
    /** Sluice's own (prefilter.h): Cilium's XDP prefilter drops without a reason, and its list has none for it. */
    PREFILTER(240, "Prefilter: blocked CIDR");

    private static final Lookup<DropReason> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    DropReason(int value, String displayName) {
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
    public static Optional<DropReason> of(int value) {
        return LOOKUP.find(value);
    }

    /** The constant, or null for a value the datapath does not define (for switches: {@code case null}). */
    public static DropReason orNull(int value) {
        return LOOKUP.orNull(value);
    }

    /** The display name, or {@code Unknown drop reason <value>} for a value the datapath does not define. */
    public static String displayName(int value) {
        DropReason c = LOOKUP.orNull(value);
        return c != null ? c.displayName : "Unknown drop reason " + value;
    }
}
