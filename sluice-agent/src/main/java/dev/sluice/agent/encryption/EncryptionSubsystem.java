package dev.sluice.agent.encryption;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.api.NodeLayout;
import dev.sluice.agent.api.wireguard.WgDeviceState;
import dev.sluice.agent.api.wireguard.WgKey;
import dev.sluice.agent.api.wireguard.WireGuardNames;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.linux.Command;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterView;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Transparent WireGuard encryption between nodes ({@code encryption.enabled: true, type: wireguard}): one device
 * per node ({@code sluice_wg0}, wireguard-go here), the node's key kept in its state directory and its public key
 * published as a node annotation, one peer per other node that published one (endpoint: its address and
 * {@link WireGuardNames#PORT}; allowed IPs: its pod CIDR), kept current as nodes come, go or change keys, and pod
 * traffic to those nodes steered into the device by policy routing ({@link EncryptionRouting}).
 *
 * <p>The device is configured through the UAPI socket only, and compared with what it answers to {@code get=1}
 * on each change, so a restarted agent adopts the running daemon and changes only what differs.
 */
public final class EncryptionSubsystem implements Subsystem {
    /** Publishes a node annotation; false when it cannot now (retried). */
    @FunctionalInterface
    public interface Publisher {
        boolean annotate(String key, String value);
    }

    /**
     * Each peer is sent a keepalive after this long without traffic. Setting it makes wireguard-go send one at once,
     * so a new peer (a node joining, or a node whose key was rotated) gets a handshake now rather than after the
     * 5 s a handshake from the other side waits to be retried; idle peers keep a recent handshake that `sluice
     * encrypt check` can show. 25 s is wg-quick's usual value.
     */
    static final int KEEPALIVE_SECONDS = 25;
    private final NodeLayout layout;
    private final boolean strict;
    private final Publisher publisher;
    private final NodeKey nodeKey;
    private final WireGuardDaemon daemon;
    private final Optional<String> unavailable;
    private WgKey key;
    private EncryptionRouting routing;
    private ClusterView lastView;
    private boolean published;
    private String failure = "";
    /** Other nodes whose traffic is not encrypted, with why: the loud part of status. */
    private Map<String, String> unencrypted = Map.of();
    private WgDeviceState lastState;
    /** The peers wanted, by key, as of the last change. */
    private Map<WgKey, ClusterView.Node> peers = Map.of();
    /** Nodes whose pod CIDR is routed into the device: once routed, kept while they stay peers. */
    private final Set<String> routedNodes = new java.util.HashSet<>();
    private long peersChangedMs;
    private long strictDrops = -1;
    private long lastPoll;

    public EncryptionSubsystem(NodeLayout layout, boolean strict, Publisher publisher) {
        this.layout = layout;
        this.strict = strict;
        this.publisher = publisher;
        this.nodeKey = new NodeKey(layout.wireguardDir().resolve("private.key"));
        this.daemon = new WireGuardDaemon(layout.wireguardDir(), WireGuardNames.socket(layout));
        this.unavailable = WireGuardDaemon.unavailable();
    }

    @Override
    public String name() {
        return "Encryption";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        return change.touches(Kind.NODE);
    }

    @Override
    public Applied apply(ClusterChange change) {
        lastView = change.view();
        ClusterView.Node self = lastView.node(layout.node()).orElseThrow(
                () -> new IllegalStateException("node " + layout.node() + " is not in the cluster view"));
        if (routing == null) {
            routing = new EncryptionRouting(self.podCidr());
        }
        List<ClusterView.Node> others = lastView.nodes().stream().filter(n -> !n.name().equals(layout.node())).toList();
        Set<String> remoteCidrs = new TreeSet<>(others.stream().map(ClusterView.Node::podCidr).toList());
        try {
            // Strict mode first: whatever fails below, nothing for another node leaves in the clear.
            routing.filter(remoteCidrs, strict, dev.sluice.agent.l7.ProxyReplyRouting.MARK);
            if (unavailable.isPresent()) {
                // Not a failure of a change: the machine lacks it. Status says so loudly; strict mode still drops.
                failure = "WireGuard unavailable: " + unavailable.get();
                unencrypted = Map.of("every node", failure);
                return Applied.ok();
            }
            boolean fresh = daemon.ensure();
            if (key == null) {
                key = nodeKey.loadOrCreate();
            }
            WgDeviceState state = daemon.uapi().get();
            List<String> set = new ArrayList<>();
            if (fresh || state.publicKey().filter(key.publicKey()::equals).isEmpty()) {
                set.add("private_key=" + key.hex());
            }
            if (state.listenPort() != WireGuardNames.PORT) {
                set.add("listen_port=" + WireGuardNames.PORT);
            }
            Map<String, String> notEncrypted = new LinkedHashMap<>();
            Map<WgKey, ClusterView.Node> wanted = new LinkedHashMap<>();
            for (ClusterView.Node n : others) {
                String published = n.annotation(WireGuardNames.PUBLIC_KEY_ANNOTATION);
                if (published.isEmpty()) {
                    notEncrypted.put(n.name(), "no WireGuard public key published");
                    continue;
                }
                try {
                    wanted.put(WgKey.fromBase64(published), n);
                } catch (IllegalArgumentException e) {
                    notEncrypted.put(n.name(), "annotation " + WireGuardNames.PUBLIC_KEY_ANNOTATION + ": " + e.getMessage());
                }
            }
            set.addAll(peerChanges(state, wanted));
            daemon.uapi().set(set);
            if (fresh) {
                routing.deviceGone();
            }
            Command.run("ip", "link", "set", WireGuardNames.DEVICE, "up");
            routing.ensureRule();
            unencrypted = notEncrypted;
            boolean retry = !publish(self);
            lastState = daemon.uapi().get();
            peers = wanted;
            boolean waiting = routeReady();
            if (!set.isEmpty()) {
                peersChangedMs = System.currentTimeMillis();
            }
            failure = "";
            // A new peer is routed once it has answered a handshake (see routeReady); until then, look again soon.
            return new Applied(List.of(), retry || waiting && System.currentTimeMillis() - peersChangedMs < 15_000);
        } catch (IOException | RuntimeException e) {
            failure = e.getMessage();
            unencrypted = Map.of("every node", failure);
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
        }
    }

    /**
     * Routes into the device the pod CIDRs of the peers that have completed a handshake, and of those routed before
     * (a peer re-keying, after a rotation, stays routed: its packets wait for the new session rather than leave in
     * the clear). A node just met is not routed until then: while only one side of a pair knows the other's key,
     * packets into the device would be dropped by the side that does not (and, without strict mode, they still go
     * as before, in the clear, for that moment; with strict mode they are dropped).
     *
     * @return whether some peer still waits for its first handshake
     */
    private boolean routeReady() throws IOException {
        Set<String> cidrs = new TreeSet<>();
        boolean waiting = false;
        for (var e : peers.entrySet()) {
            String node = e.getValue().name();
            boolean handshaken = lastState.peer(e.getKey()).map(WgDeviceState.Peer::handshaken).orElse(false);
            if (handshaken || routedNodes.contains(node)) {
                cidrs.add(e.getValue().podCidr());
                routedNodes.add(node);
            } else {
                waiting = true;
                unencrypted = new LinkedHashMap<>(unencrypted);
                unencrypted.put(node, "waiting for the first WireGuard handshake");
            }
        }
        routedNodes.retainAll(peers.values().stream().map(ClusterView.Node::name).toList());
        routing.route(cidrs);
        return waiting;
    }

    /** The UAPI lines that turn the device's peers into {@code wanted}: removals, additions, changed endpoints or CIDRs. */
    static List<String> peerChanges(WgDeviceState state, Map<WgKey, ClusterView.Node> wanted) {
        List<String> lines = new ArrayList<>();
        for (WgDeviceState.Peer p : state.peers()) {
            if (!wanted.containsKey(p.publicKey())) {
                lines.add("public_key=" + p.publicKey().hex());
                lines.add("remove=true");
            }
        }
        for (var e : wanted.entrySet()) {
            String endpoint = e.getValue().address() + ":" + WireGuardNames.PORT;
            Optional<WgDeviceState.Peer> have = state.peer(e.getKey());
            if (have.isPresent() && have.get().endpoint().equals(endpoint)
                    && have.get().allowedIps().equals(List.of(e.getValue().podCidr()))
                    && have.get().persistentKeepalive() == KEEPALIVE_SECONDS) {
                continue;
            }
            lines.add("public_key=" + e.getKey().hex());
            lines.add("endpoint=" + endpoint);
            lines.add("persistent_keepalive_interval=" + KEEPALIVE_SECONDS);
            lines.add("replace_allowed_ips=true");
            lines.add("allowed_ip=" + e.getValue().podCidr());
        }
        return lines;
    }

    /** Publishes this node's public key unless the view already shows it; false when the cluster state was busy. */
    private boolean publish(ClusterView.Node self) {
        String mine = key.publicKey().base64();
        if (self.annotation(WireGuardNames.PUBLIC_KEY_ANNOTATION).equals(mine)) {
            published = true;
            return true;
        }
        published = publisher.annotate(WireGuardNames.PUBLIC_KEY_ANNOTATION, mine);
        return published;
    }

    @Override
    public void tick(long nowMs) {
        try {
            if (key != null && !daemon.alive() && lastView != null) {
                // wireguard-go died: its device and the routes through it are gone (strict mode drops meanwhile).
                System.out.println("agent: wireguard-go (pid " + daemon.pid() + ") is gone; starting it again");
                routing.deviceGone();
                apply(new ClusterChange(0, List.of(), lastView));
            }
            if (key != null && Files.exists(WireGuardNames.rotateRequest(layout))) {
                rotate();
            } else if (key != null && !published) {
                // The lab's lock was busy when the key was to be published: until it is, no peer has it.
                published = publisher.annotate(WireGuardNames.PUBLIC_KEY_ANNOTATION, key.publicKey().base64());
            }
            if (nowMs - lastPoll >= 2000 && key != null) {
                lastPoll = nowMs;
                lastState = daemon.uapi().get();
                if (routing != null) {
                    Map<String, String> before = unencrypted;
                    unencrypted = new LinkedHashMap<>(before);
                    unencrypted.values().removeIf("waiting for the first WireGuard handshake"::equals);
                    routeReady(); // a peer that has answered since is routed now
                }
                strictDrops = strict ? EncryptionRouting.strictDrops() : -1;
            }
        } catch (IOException | RuntimeException e) {
            failure = e.getMessage();
        }
    }

    /**
     * A new key: kept first, then given to the device, then published; each peer replaces this node's old key with
     * the new one when its agent sees the annotation. Sessions are renegotiated (wireguard-go retries a handshake
     * every 5 s), so packets wait meanwhile and TCP connections carry on.
     */
    void rotate() throws IOException {
        WgKey next = WgKey.generatePrivate();
        nodeKey.write(next);
        key = next;
        daemon.uapi().set(List.of("private_key=" + next.hex()));
        published = publisher.annotate(WireGuardNames.PUBLIC_KEY_ANNOTATION, next.publicKey().base64());
        Files.deleteIfExists(WireGuardNames.rotateRequest(layout));
        System.out.println("agent: WireGuard key rotated; public key now " + next.publicKey().base64()
                + (published ? "" : " (publishing retried with the next change)"));
    }

    WgKey publicKey() {
        return key == null ? null : key.publicKey();
    }

    @Override
    public List<Line> status() {
        List<Line> lines = new ArrayList<>();
        if (key == null || lastState == null) {
            lines.add(new Line("Encryption", "Wireguard NOT RUNNING: " + (failure.isEmpty() ? "starting" : failure)
                    + (strict ? "; strict mode drops pod traffic to other nodes" : "; pod traffic to other nodes is NOT ENCRYPTED")));
            return lines;
        }
        long handshaken = lastState.peers().stream().filter(WgDeviceState.Peer::handshaken).count();
        StringBuilder s = new StringBuilder("Wireguard [" + WireGuardNames.DEVICE + " (Pubkey: " + key.publicKey().base64()
                + ", Port: " + lastState.listenPort() + ", Peers: " + lastState.peers().size() + ")]");
        s.append(" wireguard-go pid ").append(daemon.pid()).append(", ").append(handshaken).append(" peer(s) with a handshake");
        if (!published) {
            s.append("; public key not yet published");
        }
        if (strict) {
            s.append("; strict mode: ").append(strictDrops < 0 ? "?" : String.valueOf(strictDrops)).append(" packet(s) dropped");
        }
        if (!failure.isEmpty()) {
            s.append("; last error: ").append(failure);
        }
        lines.add(new Line("Encryption", s.toString()));
        if (!unencrypted.isEmpty()) {
            lines.add(new Line("Encryption WARNING", (strict ? "traffic DROPPED (strict mode) to " : "traffic NOT ENCRYPTED to ")
                    + unencrypted.entrySet().stream().map(e -> e.getKey() + " (" + e.getValue() + ")").toList()));
        }
        return lines;
    }

    @Override
    public Set<String> features() {
        return Set.of("Encryption");
    }

    /** Leaves the daemon running, like the pinned maps: a restarted agent adopts it and traffic stays encrypted. */
    @Override
    public void close() {
    }

    /** Encryption turned off: the node's daemon, rule, routes and nftables table go. */
    public static void removeLeftovers(NodeLayout layout) {
        if (Files.exists(layout.wireguardDir())) {
            new WireGuardDaemon(layout.wireguardDir(), WireGuardNames.socket(layout)).stop();
            EncryptionRouting.removeAll();
        }
    }
}
