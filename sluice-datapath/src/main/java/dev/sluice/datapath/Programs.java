package dev.sluice.datapath;

import dev.sluice.libbpf.BpfObject;

import java.util.List;

/** The BPF objects compiled from bpf/ and packaged in this jar, opened from memory. */
public final class Programs {
    /** bpf/probe.bpf.c: one do-nothing program per hook type Sluice attaches, for `sluice doctor`. */
    public static final String PROBE = "probe";

    /**
     * bpf/sock_lb.bpf.c: socket-level Service load balancing (cgroup connect4, sendmsg4, recvmsg4,
     * getpeername4, sock_release), attached to the pods' cgroup.
     */
    public static final String SOCK_LB = "sock_lb";

    /** bpf/pod_veth.bpf.c: per-packet Service load balancing, from_pod/to_pod on each pod's host-side veth (tcx). */
    public static final String POD_VETH = "pod_veth";

    /**
     * bpf/pod_policy.bpf.c: identity-based network policy with connection tracking, policy_from_pod (tcx
     * ingress, after from_pod) and policy_to_pod (tcx egress, before to_pod) on each pod's host-side veth.
     */
    public static final String POD_POLICY = "pod_policy";

    /**
     * bpf/xdp_prefilter.bpf.c: drops IPv4 packets from blocked CIDRs on a node's uplink (XDP), before the stack
     * allocates them.
     */
    public static final String XDP_PREFILTER = "xdp_prefilter";

    /**
     * bpf/sock_bypass.bpf.c: the same-node socket bypass, a sockops program on the pods' cgroup that puts
     * established, policy-admitted connections between two pods of the node into a SOCKHASH, and an sk_msg
     * program on it that hands each message to the peer socket.
     */
    public static final String SOCK_BYPASS = "sock_bypass";

    /** Every object this jar carries. */
    public static final List<String> BUNDLED = List.of(PROBE, SOCK_LB, POD_VETH, POD_POLICY, XDP_PREFILTER, SOCK_BYPASS);

    private Programs() {
    }

    /**
     * Opens a bundled object of a node's datapath (not yet loaded): its maps pinned under {@code mapDir}, shared
     * with the node's other objects, and the flow-event ring buffer sized {@code flowRingBytes} (an object
     * without flow maps ignores it).
     */
    public static BpfObject openForNode(String name, java.nio.file.Path mapDir, int flowRingBytes) {
        BpfObject object = open(name);
        if (object.mapNames().contains(dev.sluice.datapath.flow.FlowStructs.MAP_EVENTS)) {
            object.setMaxEntries(dev.sluice.datapath.flow.FlowStructs.MAP_EVENTS, flowRingBytes);
        }
        return object.pinMapsUnder(mapDir);
    }

    /** Opens a bundled object (not yet loaded), e.g. {@code Programs.open(Programs.PROBE)}. */
    public static BpfObject open(String name) {
        return BpfObject.openResource(Programs.class, "/bpf/" + name + ".bpf.o");
    }
}
