package dev.sluice.datapath.abi;

import java.util.Optional;

/**
 * flow_event.ip_version (flow.h's FLOW_IP_*): which of the event's address fields hold its addresses. Named as
 * Hubble's IPVersion.
 */
public enum FlowIpVersion implements AbiConstant {
    /** saddr/daddr: IPv4 addresses, or 0 for a frame without any. */
    V4_OR_NONE(0, "IPv4"),
    /** saddr6/daddr6. */
    V6(6, "IPv6");

    private static final Lookup<FlowIpVersion> LOOKUP = Lookup.of(values());

    private final int value;
    private final String displayName;

    FlowIpVersion(int value, String displayName) {
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
    public static Optional<FlowIpVersion> of(int value) {
        return LOOKUP.find(value);
    }
}
