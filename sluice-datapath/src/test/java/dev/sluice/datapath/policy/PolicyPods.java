package dev.sluice.datapath.policy;

import dev.sluice.datapath.Cleanup;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.TcDirection;
import dev.sluice.linux.NetNs;
import dev.sluice.testing.Names;

/** Pod namespaces wired to a node namespace as the lab wires them, with the policy programs on each pod's veth. */
final class PolicyPods {
    /** A pod: its namespace, and the index of its veth's node end (the endpoints map's key). */
    record PodNs(NetNs ns, int ifindex) {
    }

    private PolicyPods() {
    }

    /**
     * A pod namespace {@code prefix...} with {@code address}/32 routed through 169.254.1.1 over a veth into
     * {@code node}, policy_from_pod (tcx ingress) and policy_to_pod (tcx egress) on the node's end; all of it
     * registered with {@code cleanup}.
     */
    static PodNs create(Cleanup cleanup, NetNs node, BpfObject object, String prefix, String address) {
        NetNs ns = cleanup.add(NetNs.create(Names.unique(prefix)));
        String hostVeth = Names.unique("lxc");
        node.ip("link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", ns.name());
        node.ip("addr", "add", "169.254.1.1/32", "dev", hostVeth);
        node.ip("link", "set", hostVeth, "up");
        node.ip("route", "replace", address + "/32", "dev", hostVeth, "scope", "link");
        ns.ip("addr", "add", address + "/32", "dev", "eth0");
        ns.ip("link", "set", "eth0", "up");
        ns.ip("route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
        ns.ip("route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
        int ifindex = node.ifindex(hostVeth);
        BpfLink egress = node.call(() -> object.program("policy_from_pod").attachTcx(ifindex, TcDirection.INGRESS));
        cleanup.add(egress::detach);
        BpfLink ingress = node.call(() -> object.program("policy_to_pod").attachTcx(ifindex, TcDirection.EGRESS));
        cleanup.add(ingress::detach);
        return new PodNs(ns, ifindex);
    }
}
