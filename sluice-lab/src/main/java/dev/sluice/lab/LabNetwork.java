package dev.sluice.lab;

import dev.sluice.lab.LabState.NodeState;
import dev.sluice.linux.NetNs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds the lab's network out of namespaces and veth pairs, never touching the machine's own network
 * namespace: every veth is created inside a lab namespace with its peer placed straight into another.
 *
 * <pre>
 *  fabric netns: bridge "fabric" -- port "nodeN" ==veth== "eth0" in node N's netns (10.254.0.N/24)
 *  node N netns: "lxcXXXXXXXX" ==veth== "eth0" in a pod's netns (10.244.N.x/32, default via 169.254.1.1)
 * </pre>
 *
 * Nodes route each other's pod /24s over the fabric and have no default route, so an address outside
 * the lab is unreachable from every lab namespace.
 */
final class LabNetwork {
    private LabNetwork() {
    }

    static String netnsPrefix(String lab) {
        return "sl-" + lab + "-";
    }

    static String fabricNetns(String lab) {
        return netnsPrefix(lab) + "fabric";
    }

    static NetNs createFabric(String lab) {
        NetNs fabric = NetNs.create(fabricNetns(lab));
        fabric.ip("link", "add", "fabric", "type", "bridge");
        fabric.ip("link", "set", "fabric", "up");
        return fabric;
    }

    /** Creates node N's namespace, joins it to the fabric, and turns on forwarding. */
    static void createNode(String lab, NodeState node) {
        NetNs fabric = NetNs.existing(fabricNetns(lab));
        NetNs ns = NetNs.create(node.netns());
        String port = "node" + node.index();
        fabric.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns.name());
        fabric.ip("link", "set", port, "master", "fabric", "up");
        ns.ip("addr", "add", node.address() + "/24", "dev", "eth0");
        ns.ip("link", "set", "eth0", "up");
        sysctl(ns, "net.ipv4.ip_forward=1");
    }

    /** Routes every other node's pod /24 through that node's fabric address. */
    static void routeNodes(List<NodeState> nodes) {
        for (NodeState node : nodes) {
            NetNs ns = NetNs.existing(node.netns());
            for (NodeState other : nodes) {
                if (other != node) {
                    ns.ip("route", "replace", other.podCidr(), "via", other.address(), "dev", "eth0");
                }
            }
        }
    }

    /** Creates the pod's namespace and veth, addresses it and routes it from its node. */
    static void createPod(NodeState node, String podNetns, String hostVeth, String ip, BringUpTimings timings) {
        NetNs nodeNs = NetNs.existing(node.netns());
        NetNs pod = timings.time(BringUpTimings.Step.NETNS, () -> NetNs.create(podNetns));
        long t0 = System.nanoTime();
        try {
            nodeNs.ip("link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", pod.name());
            nodeNs.ip("addr", "add", AddressPlan.POD_GATEWAY + "/32", "dev", hostVeth);
            nodeNs.ip("link", "set", hostVeth, "up");
            nodeNs.ip("route", "replace", ip + "/32", "dev", hostVeth, "scope", "link");
            pod.ip("addr", "add", ip + "/32", "dev", "eth0");
            pod.ip("link", "set", "eth0", "up");
            pod.ip("route", "add", AddressPlan.POD_GATEWAY, "dev", "eth0", "scope", "link");
            pod.ip("route", "add", "default", "via", AddressPlan.POD_GATEWAY, "dev", "eth0");
        } catch (RuntimeException e) {
            pod.close();
            throw e;
        } finally {
            timings.add(BringUpTimings.Step.VETH, System.nanoTime() - t0);
        }
    }

    /** Deletes a namespace if it exists; its veth ends (and the routes through them) go with it. */
    static void deleteNetns(String name) {
        if (Files.exists(Path.of("/run/netns", name))) {
            NetNs.existing(name).close();
        }
    }


    private static void sysctl(NetNs ns, String setting) {
        ns.exec("sysctl", "-q", "-w", setting).orThrow();
    }
}
