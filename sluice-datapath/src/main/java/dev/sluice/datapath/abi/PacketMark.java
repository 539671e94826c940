package dev.sluice.datapath.abi;

/** skb->mark values the datapath sets for the node's routing to act on (bpf/include/sluice_common.h). */
public final class PacketMark {
    /**
     * A reply to a connection the node proxy opened from a client pod's address (identity-preserving
     * forwarding): {@code SLUICE_MARK_TO_PROXY}, routed to the proxy's local table by the agent's fwmark rule.
     */
    public static final int TO_PROXY = 0x5348a1f1;

    private PacketMark() {
    }
}
