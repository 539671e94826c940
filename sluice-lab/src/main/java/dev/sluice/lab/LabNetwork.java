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
 * Nodes have no default route, so an address outside the lab is unreachable from every lab namespace. The
 * routes to other nodes' pod /24s are the agents' (their routing subsystem: natively over the fabric, or through a
 * VXLAN tunnel, as the values' {@code routingMode} says), as a CNI's agent writes them on Kubernetes.
 */
final class LabNetwork {
    /** The MTU of the links between nodes (see {@link #createNode}). */
    static final int FABRIC_MTU = 1600;

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
        // The fabric carries FABRIC_MTU, so that a pod's full 1500-byte packet still fits once a tunnel (VXLAN: 50
        // bytes) or encryption (WireGuard: 80) wraps it, as a data centre's jumbo frames do; pods keep 1500.
        fabric.ip("link", "add", port, "mtu", Integer.toString(FABRIC_MTU), "type", "veth", "peer", "name", "eth0",
                "mtu", Integer.toString(FABRIC_MTU), "netns", ns.name());
        fabric.ip("link", "set", port, "master", "fabric", "up");
        ns.ip("addr", "add", node.address() + "/24", "dev", "eth0");
        ns.ip("link", "set", "eth0", "up");
        sysctl(ns, "net.ipv4.ip_forward=1");
    }

    /**
     * A MAC for a pod's end of its veth: random, locally administered and unicast (as the kernel picks one for a
     * veth), chosen here so that the lab can record it, as a CNI plugin reports it, for the datapath's source MAC
     * check.
     */
    static String podMac() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        b[0] = (byte) ((b[0] & 0xFC) | 0x02);
        return java.util.HexFormat.ofDelimiter(":").formatHex(b);
    }

    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    /** One pod's network, as {@link #createPods} makes it; {@code mac} that of the pod's end ({@link #podMac()}). */
    record PodNet(String netns, String hostVeth, String ip, String mac) {
    }

    /**
     * Creates many pods' namespaces and veths on one node (each pod: its namespace, a veth from the node to its
     * {@code eth0}, its /32 on {@code eth0} with a default route via the gateway, which the node's end owns; the node
     * routes the /32 to the veth), in three kinds of {@code ip
     * -batch} runs instead of about ten {@code ip} processes a pod (the cost measured first: docs/benchmarks.md):
     * one that adds every namespace, one in the node's namespace for every node-side veth end, address and route,
     * and one a pod for its side ({@code ip -batch} has no per-line namespace). On failure, the namespaces made
     * here are deleted again (with them the veths) and the error names the failing line.
     */
    static void createPods(NodeState node, List<PodNet> pods, BringUpTimings timings, java.util.concurrent.ExecutorService pool) {
        if (pods.isEmpty()) {
            return;
        }
        try {
            timings.time(BringUpTimings.Step.NETNS, () -> batch(null, pods.stream().map(p -> "netns add " + p.netns()).toList()));
            long t0 = System.nanoTime();
            List<String> nodeSide = new java.util.ArrayList<>();
            for (PodNet p : pods) {
                nodeSide.add("link add " + p.hostVeth() + " type veth peer name eth0 address " + p.mac() + " netns " + p.netns());
                nodeSide.add("addr add " + AddressPlan.POD_GATEWAY + "/32 dev " + p.hostVeth());
                nodeSide.add("link set " + p.hostVeth() + " up");
                nodeSide.add("route replace " + p.ip() + "/32 dev " + p.hostVeth() + " scope link");
            }
            batch(node.netns(), nodeSide);
            List<java.util.concurrent.Future<?>> podSides = new java.util.ArrayList<>();
            for (PodNet p : pods) {
                podSides.add(pool.submit(() -> batch(p.netns(), List.of(
                        "link set lo up",
                        "addr add " + p.ip() + "/32 dev eth0",
                        "link set eth0 up",
                        "route add " + AddressPlan.POD_GATEWAY + " dev eth0 scope link",
                        "route add default via " + AddressPlan.POD_GATEWAY + " dev eth0"))));
            }
            for (var f : podSides) {
                await(f);
            }
            timings.add(BringUpTimings.Step.VETH, System.nanoTime() - t0);
        } catch (RuntimeException e) {
            for (PodNet p : pods) {
                try {
                    deleteNetns(p.netns());
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    static void await(java.util.concurrent.Future<?> f) {
        try {
            f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** {@code ip [-n NETNS] -batch FILE} of {@code lines}; ip stops at the first failing line and names it. */
    private static void batch(String netns, List<String> lines) {
        try {
            Path file = Files.createTempFile("sluice-ip", ".batch");
            try {
                Files.write(file, lines);
                List<String> cmd = new java.util.ArrayList<>(List.of("ip"));
                if (netns != null) {
                    cmd.addAll(List.of("-n", netns));
                }
                cmd.addAll(List.of("-batch", file.toString()));
                dev.sluice.linux.Command.exec(cmd).orThrow();
            } finally {
                Files.deleteIfExists(file);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write an ip batch file", e);
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
