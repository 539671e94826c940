package dev.sluice.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.NodeLayout;
import dev.sluice.agent.api.wireguard.Uapi;
import dev.sluice.agent.api.wireguard.WgDeviceState;
import dev.sluice.agent.api.wireguard.WgKey;
import dev.sluice.agent.api.wireguard.WireGuardNames;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.Command;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.cluster.ClusterView;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code sluice encrypt status|check|rotate-key}: WireGuard between the lab's nodes, read from the real state of
 * each node (its device over the UAPI socket, its routes and rules in its namespace), never from the values file.
 */
final class EncryptCommands {
    private static final ObjectMapper JSON = new ObjectMapper();

    private EncryptCommands() {
    }

    @CommandLine.Command(name = "encrypt", description = "Transparent encryption between nodes (WireGuard): peers, checks, key rotation.",
            subcommands = {Status.class, Check.class, RotateKey.class})
    static final class Group extends GroupCommand {
    }

    /** The node's device as it answers now, or why it cannot be read. */
    static Optional<WgDeviceState> device(Lab lab, String node) {
        try {
            return Optional.of(new Uapi(WireGuardNames.socket(lab.layout(node))).get());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    static String ago(long epochSec) {
        return epochSec == 0 ? "never" : (Instant.now().getEpochSecond() - epochSec) + "s ago";
    }

    @CommandLine.Command(name = "status", description = "Each node's WireGuard device: public key, port, and per peer its node, endpoint, allowed IPs, last handshake, bytes received and sent (UAPI get=1).")
    static final class Status implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", description = "Only this node.")
        String node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Lab l = lab.lab();
            LabState state = l.state();
            int missing = 0;
            for (LabState.NodeState n : state.nodes()) {
                if (node != null && !node.equals(n.name())) {
                    continue;
                }
                Optional<WgDeviceState> device = device(l, n.name());
                if (device.isEmpty()) {
                    missing++;
                    out.printf("%s: no WireGuard device answers on %s (encryption off, or the agent has not started it)%n",
                            n.name(), WireGuardNames.socket(l.layout(n.name())));
                    continue;
                }
                WgDeviceState d = device.get();
                out.printf("%s: %s (Pubkey: %s, Port: %d, Peers: %d)%n", n.name(), WireGuardNames.DEVICE,
                        d.publicKey().map(WgKey::base64).orElse("none"), d.listenPort(), d.peers().size());
                out.printf("  %-10s %-46s %-20s %-16s %-16s %12s %12s%n", "PEER", "PUBLIC KEY", "ENDPOINT", "ALLOWED IPS", "HANDSHAKE", "RX BYTES", "TX BYTES");
                for (WgDeviceState.Peer p : d.peers()) {
                    String peerNode = state.nodes().stream().filter(o -> p.publicKey().base64().equals(o.annotations()
                            .get(WireGuardNames.PUBLIC_KEY_ANNOTATION))).map(LabState.NodeState::name).findFirst().orElse("?");
                    out.printf("  %-10s %-46s %-20s %-16s %-16s %12d %12d%n", peerNode, p.publicKey().base64(), p.endpoint(),
                            String.join(",", p.allowedIps()), ago(p.lastHandshakeEpochSec()), p.rxBytes(), p.txBytes());
                }
            }
            out.flush();
            return missing == 0 ? 0 : 1;
        }
    }

    @CommandLine.Command(name = "check", description = "Whether traffic between SRC and DST (pods or Services, [ns/]name) crosses nodes and, if so,"
            + " whether it is encrypted, by which interface, and the peer's last handshake: from the nodes' routes, rules and WireGuard devices.")
    static final class Check implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Parameters(index = "0", paramLabel = "SRC")
        String src;
        @Parameters(index = "1", paramLabel = "DST")
        String dst;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Lab l = lab.lab();
            ClusterView view = l.view();
            List<ClusterView.Pod> from = pods(view, src);
            List<ClusterView.Pod> to = pods(view, dst);
            int clear = 0;
            for (ClusterView.Pod a : from) {
                for (ClusterView.Pod b : to) {
                    if (a.node().equals(b.node())) {
                        out.printf("%s (%s) -> %s (%s): same node %s, does not cross nodes (nothing to encrypt)%n",
                                a.key(), a.ip(), b.key(), b.ip(), a.node());
                        continue;
                    }
                    String there = path(l, view, a, b);
                    String back = path(l, view, b, a);
                    out.printf("%s (%s, %s) -> %s (%s, %s): crosses nodes%n  %s%n  reply: %s%n", a.key(), a.ip(), a.node(), b.key(),
                            b.ip(), b.node(), there, back);
                    clear += there.startsWith("ENCRYPTED") && back.startsWith("ENCRYPTED") ? 0 : 1;
                }
            }
            out.flush();
            return clear == 0 ? 0 : 1;
        }

        /**
         * How {@code a}'s node forwards a packet from {@code a} to {@code b}: the kernel's own answer ({@code ip route
         * get ... iif VETH}, with the node's rules), then the device's peer for that address and its last handshake.
         */
        private static String path(Lab lab, ClusterView view, ClusterView.Pod a, ClusterView.Pod b) {
            LabState.NodeState node = lab.state().node(a.node()).orElseThrow();
            var route = Command.exec(List.of("ip", "-n", node.netns(), "-j", "route", "get", b.ip(), "from", a.ip(), "iif", a.hostInterface()));
            if (!route.ok()) {
                return "NOT DELIVERED: node " + a.node() + " has no route from " + a.ip() + " to " + b.ip() + ": " + route.stderr().strip();
            }
            String dev;
            String type;
            try {
                JsonNode r = JSON.readTree(route.stdout()).path(0);
                dev = r.path("dev").asText();
                type = r.path("type").asText("unicast");
            } catch (IOException e) {
                return "UNKNOWN: cannot read ip route get's answer: " + e.getMessage();
            }
            String table = Command.exec(List.of("ip", "-n", node.netns(), "-4", "rule", "show", "priority", WireGuardNames.RULE_PRIORITY))
                    .stdout().strip();
            if (!WireGuardNames.DEVICE.equals(dev)) {
                boolean strict = Command.exec(List.of("nsenter", "--net=/run/netns/" + node.netns(), "nft", "list", "chain", "inet",
                        WireGuardNames.NFT_TABLE, "forwarding")).stdout().contains("strict_drops");
                return (strict ? "DROPPED (strict mode, node " + a.node() + "): would leave by " + dev + " unencrypted"
                        : "NOT ENCRYPTED: node " + a.node() + " sends it by " + (dev.isEmpty() ? type : dev) + " in the clear")
                        + (table.isEmpty() ? " (no encryption rule on the node)" : "");
            }
            Optional<WgDeviceState> device = device(lab, a.node());
            if (device.isEmpty()) {
                return "NOT DELIVERED: routed into " + dev + " on " + a.node() + " but no WireGuard device answers there";
            }
            String peerNode = b.node();
            String published = view.node(peerNode).map(n -> n.annotation(WireGuardNames.PUBLIC_KEY_ANNOTATION)).orElse("");
            Optional<WgDeviceState.Peer> peer = device.get().peers().stream()
                    .filter(p -> p.allowedIps().stream().anyMatch(c -> contains(c, b.ip()))).findFirst();
            if (peer.isEmpty()) {
                return "DROPPED: routed into " + dev + " on " + a.node() + " but no peer there allows " + b.ip();
            }
            WgDeviceState.Peer p = peer.get();
            return "ENCRYPTED by " + dev + " on " + a.node() + " (WireGuard, rule priority " + WireGuardNames.RULE_PRIORITY + " table "
                    + WireGuardNames.TABLE + "), peer " + peerNode + " " + p.publicKey().base64() + " at " + p.endpoint()
                    + ", last handshake " + ago(p.lastHandshakeEpochSec())
                    + (published.equals(p.publicKey().base64()) ? "" : " (the peer's key differs from the one " + peerNode + " published: rotating?)");
        }

        static boolean contains(String cidr, String ip) {
            String[] parts = cidr.split("/");
            int bits = parts.length > 1 ? Integer.parseInt(parts[1]) : 32;
            long mask = bits == 0 ? 0 : (0xFFFFFFFFL << (32 - bits)) & 0xFFFFFFFFL;
            return (v4(parts[0]) & mask) == (v4(ip) & mask);
        }

        private static long v4(String ip) {
            long v = 0;
            for (String o : ip.split("\\.")) {
                v = (v << 8) | Integer.parseInt(o);
            }
            return v;
        }

        /** A pod, or a Service's ready backends; {@code [ns/]name}, default namespace "default". */
        static List<ClusterView.Pod> pods(ClusterView view, String ref) {
            String ns = ref.contains("/") ? ref.substring(0, ref.indexOf('/')) : "default";
            String name = ref.contains("/") ? ref.substring(ref.indexOf('/') + 1) : ref;
            Optional<ClusterView.Pod> pod = view.pods().stream().filter(p -> p.namespace().equals(ns) && p.name().equals(name)).findFirst();
            if (pod.isPresent()) {
                return List.of(pod.get());
            }
            Optional<ServiceSpec> service = view.services().stream()
                    .filter(s -> s.ref().namespace().equals(ns) && s.ref().name().equals(name)).findFirst();
            if (service.isEmpty()) {
                throw new IllegalArgumentException("no pod or Service " + ns + "/" + name + " in the lab");
            }
            List<ClusterView.Pod> backends = new ArrayList<>();
            for (ClusterView.Pod p : view.pods()) {
                if (p.namespace().equals(ns) && p.ready() && !service.get().selector().isEmpty()
                        && service.get().selector().entrySet().stream().allMatch(e -> e.getValue().equals(p.labels().get(e.getKey())))) {
                    backends.add(p);
                }
            }
            if (backends.isEmpty()) {
                throw new IllegalArgumentException("Service " + ns + "/" + name + " has no ready backend");
            }
            return backends;
        }
    }

    @CommandLine.Command(name = "rotate-key", description = "Give a node a new WireGuard key: its agent keeps and publishes it, every other node's"
            + " agent replaces the peer; connections carry on.")
    static final class RotateKey implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", required = true, description = "The node whose key to rotate.")
        String node;
        @Option(names = "--wait", defaultValue = "30", description = "Seconds to wait for every other node to hold the new key (default: 30).")
        int waitSeconds;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            Lab l = lab.lab();
            LabState state = l.state();
            if (state.node(node).isEmpty()) {
                throw new IllegalArgumentException("no node " + node + " in lab " + state.name());
            }
            NodeLayout layout = l.layout(node);
            WgKey old = device(l, node).flatMap(WgDeviceState::publicKey)
                    .orElseThrow(() -> new IllegalStateException("node " + node + " has no WireGuard device answering"));
            Files.createDirectories(layout.wireguardDir());
            Files.writeString(WireGuardNames.rotateRequest(layout), "");
            long deadline = System.currentTimeMillis() + waitSeconds * 1000L;
            while (System.currentTimeMillis() < deadline) {
                Optional<WgKey> now = device(l, node).flatMap(WgDeviceState::publicKey);
                if (now.isPresent() && !now.get().equals(old)) {
                    boolean everywhere = state.nodes().stream().filter(n -> !n.name().equals(node))
                            .allMatch(n -> device(l, n.name()).map(d -> d.peer(now.get()).isPresent() && d.peer(old).isEmpty()).orElse(false));
                    if (everywhere) {
                        out.printf("%s: new public key %s, held by every other node's device (the old %s is gone)%n", node,
                                now.get().base64(), old.base64());
                        out.flush();
                        return 0;
                    }
                }
                Thread.sleep(100);
            }
            out.printf("%s: the new key did not reach every node within %d s; see sluice encrypt status%n", node, waitSeconds);
            out.flush();
            return 1;
        }
    }
}
