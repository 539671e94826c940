package dev.sluice.agent.routing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.model.SluiceValues.Routing;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterView;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Routes to the other nodes' pods, in the node's main routing table, from the cluster view's nodes (name, address,
 * pod CIDR), so that the lab and Kubernetes are served by the same code.
 *
 * <ul>
 *   <li><b>native</b> ({@code routingMode: native}): {@code POD_CIDR via NODE_ADDRESS} for every other node. The
 *       network between nodes carries pod addresses, so nodes must be neighbours on it (Cilium's
 *       {@code autoDirectNodeRoutes}).</li>
 *   <li><b>tunnel</b> ({@code routingMode: tunnel}, {@code tunnelProtocol: vxlan}): every other node's pod CIDR through
 *       the node's VXLAN device ({@link TunnelDevice}); the network between nodes sees UDP between node addresses.</li>
 * </ul>
 *
 * Every route it writes carries {@link #PROTO} as its routing protocol, so a restarted agent finds its own routes
 * (and only them) and removes those of nodes that left while it was down. The first change, and any change after a
 * failure, is a full sync against the kernel; otherwise only the nodes that joined, left or moved are written. A
 * route that cannot be written throws: the agent shows {@code Routing: Degraded: ...}, the routes written before stay,
 * and the next change syncs in full again. Encryption steers traffic with its own rule and table on top of these
 * routes and never writes the main table; these routes are not its business either.
 */
public final class RoutingSubsystem implements Subsystem {
    /** The routing protocol number of Sluice's routes ({@code ip route ... proto 157}); unassigned in rtnetlink.h. */
    static final int PROTO = 157;

    private final String node;
    private final Routing routing;
    private final IpBatch ip;
    private Consumer<String> tunnelReady = device -> { };
    /** What is in the kernel, by node name, as of the last successful apply; null when it must be read again. */
    private Map<String, RemoteNode> written;
    /** The same, for status: kept through a failure, which leaves those routes in force. */
    private Map<String, RemoteNode> lastWritten = Map.of();
    private String tunnelLocal;
    private int tunnelMtu;

    /** In the agent: routes of the agent's own namespace. */
    public RoutingSubsystem(String node, Routing routing) {
        this(node, routing, new IpBatch(null));
    }

    RoutingSubsystem(String node, Routing routing, IpBatch ip) {
        this.node = Objects.requireNonNull(node);
        this.routing = Objects.requireNonNull(routing);
        this.ip = ip;
    }

    /** For tests: routes of the namespace {@code netns} (run with {@code ip -n}). */
    static RoutingSubsystem inNamespace(String node, Routing routing, String netns) {
        return new RoutingSubsystem(node, routing, new IpBatch(netns));
    }

    /**
     * Called with the tunnel device's name each time it is made or adopted: replies to the L7 proxy's
     * client-source connections arrive on it, not on the uplink, and need the same program there.
     */
    public void onTunnelDevice(Consumer<String> ready) {
        this.tunnelReady = Objects.requireNonNull(ready);
    }

    @Override
    public String name() {
        return "Routing";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        return written == null || change.touches(Kind.NODE);
    }

    @Override
    public Applied apply(ClusterChange change) {
        ClusterView view = change.view();
        List<String> problems = new ArrayList<>();
        Map<String, RemoteNode> desired = new LinkedHashMap<>();
        for (ClusterView.Node n : view.nodes()) {
            if (n.name().equals(node)) {
                continue;
            }
            String problem = invalid(n);
            if (problem != null) {
                problems.add("node " + n.name() + ": " + problem + "; its pods cannot be reached from " + node);
            } else {
                desired.put(n.name(), new RemoteNode(n.name(), n.address(), n.podCidr()));
            }
        }
        Map<String, RemoteNode> before = written;
        boolean full = before == null;
        written = null; // until this apply succeeds: a failure half-way leaves the kernel unknown, to be read again
        if (routing.mode() == Routing.Mode.TUNNEL) {
            String local = view.node(node).map(ClusterView.Node::address).filter(a -> !a.isBlank()).orElseThrow(() ->
                    new IllegalStateException("node " + node + " has no address in the cluster view: the tunnel has no local end"));
            if (full || !local.equals(tunnelLocal)) {
                tunnelMtu = TunnelDevice.ensure(ip, local, routing.port());
                tunnelLocal = local;
                full = true;
                tunnelReady.accept(TunnelDevice.NAME);
            }
        } else if (full) {
            TunnelDevice.removeIfPresent(ip);
        }
        if (full) {
            removeStale(desired);
            write(List.copyOf(desired.values()));
        } else {
            List<RemoteNode> gone = before.values().stream().filter(r -> !r.equals(desired.get(r.name()))).toList();
            List<RemoteNode> added = desired.values().stream().filter(r -> !r.equals(before.get(r.name()))).toList();
            remove(gone);
            write(added);
        }
        written = desired;
        lastWritten = Map.copyOf(desired);
        return new Applied(problems, false);
    }

    /** Why a node cannot be routed to, or null. */
    private static String invalid(ClusterView.Node n) {
        if (n.address() == null || !n.address().matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            return "its address '" + n.address() + "' is not an IPv4 address";
        }
        if (n.podCidr() == null || !n.podCidr().matches("\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}")) {
            return "its pod CIDR '" + n.podCidr() + "' is not an IPv4 CIDR";
        }
        return null;
    }

    /** Routes, and in tunnel mode neighbours and FDB entries, for {@code nodes}; replaces whatever was there. */
    private void write(List<RemoteNode> nodes) {
        if (nodes.isEmpty()) {
            return;
        }
        List<String> routes = new ArrayList<>();
        List<String> fdb = new ArrayList<>();
        for (RemoteNode r : nodes) {
            if (routing.mode() == Routing.Mode.NATIVE) {
                routes.add("route replace " + r.podCidr() + " via " + r.address() + " proto " + PROTO);
            } else {
                String gw = TunnelDevice.gateway(r.podCidr());
                String mac = TunnelDevice.mac(r.address());
                fdb.add("fdb replace " + mac + " dev " + TunnelDevice.NAME + " dst " + r.address() + " self permanent");
                routes.add("neigh replace " + gw + " lladdr " + mac + " dev " + TunnelDevice.NAME + " nud permanent");
                routes.add("route replace " + r.podCidr() + " via " + gw + " dev " + TunnelDevice.NAME + " onlink proto " + PROTO);
            }
        }
        ip.bridge(fdb);
        ip.ip(routes);
    }

    /** Removes what {@link #write} wrote for {@code nodes}; what is already gone is no error. */
    private void remove(List<RemoteNode> nodes) {
        for (RemoteNode r : nodes) {
            deleteQuietly("route del " + r.podCidr() + " proto " + PROTO);
            if (routing.mode() == Routing.Mode.TUNNEL) {
                deleteQuietly("neigh del " + TunnelDevice.gateway(r.podCidr()) + " dev " + TunnelDevice.NAME);
                if (ip.ipSucceeds("link", "show", "dev", TunnelDevice.NAME)) {
                    String mac = TunnelDevice.mac(r.address());
                    if (ip.bridgeQuery("fdb", "show", "dev", TunnelDevice.NAME).contains(mac)) {
                        ip.bridge(List.of("fdb del " + mac + " dev " + TunnelDevice.NAME + " self"));
                    }
                }
            }
        }
    }

    private void deleteQuietly(String line) {
        try {
            ip.ip(List.of(line));
        } catch (RuntimeException e) {
            String m = String.valueOf(e.getMessage());
            if (!m.contains("No such process") && !m.contains("No such file") && !m.contains("Cannot find")) {
                throw e;
            }
        }
    }

    /**
     * A full sync's first half: Sluice's routes (by {@link #PROTO}) to CIDRs no node has any more, and in tunnel mode
     * the device's neighbours and FDB entries that no remote node stands behind.
     */
    private void removeStale(Map<String, RemoteNode> desired) {
        Set<String> cidrs = new java.util.HashSet<>();
        Set<String> gateways = new java.util.HashSet<>();
        Set<String> macs = new java.util.HashSet<>();
        for (RemoteNode r : desired.values()) {
            cidrs.add(r.podCidr());
            gateways.add(TunnelDevice.gateway(r.podCidr()));
            macs.add(TunnelDevice.mac(r.address()));
        }
        for (JsonNode route : TunnelDevice.parse(ip.ipQuery("-j", "-4", "route", "show", "proto", Integer.toString(PROTO)))) {
            String dst = route.path("dst").asText();
            if (!cidrs.contains(dst)) {
                deleteQuietly("route del " + dst + " proto " + PROTO);
            }
        }
        if (routing.mode() == Routing.Mode.TUNNEL) {
            for (JsonNode n : TunnelDevice.parse(ip.ipQuery("-j", "-4", "neigh", "show", "dev", TunnelDevice.NAME))) {
                String dst = n.path("dst").asText();
                if (!gateways.contains(dst)) {
                    deleteQuietly("neigh del " + dst + " dev " + TunnelDevice.NAME);
                }
            }
            for (JsonNode f : TunnelDevice.parse(ip.bridgeQuery("-j", "fdb", "show", "dev", TunnelDevice.NAME))) {
                String mac = f.path("mac").asText();
                if (f.has("dst") && !macs.contains(mac)) {
                    ip.bridge(List.of("fdb del " + mac + " dev " + TunnelDevice.NAME + " dst " + f.path("dst").asText() + " self"));
                }
            }
        }
    }

    @Override
    public List<Line> status() {
        String how = routing.mode() == Routing.Mode.NATIVE ? "native"
                : "tunnel (" + routing.protocol() + ", UDP port " + routing.port() + ") on " + TunnelDevice.NAME
                        + (tunnelMtu > 0 ? " (VNI " + TunnelDevice.VNI + ", MTU " + tunnelMtu + ")" : "");
        int n = lastWritten.size();
        return List.of(new Line("Routing", how + ", " + n + " remote node" + (n == 1 ? "" : "s")));
    }

    @Override
    public Set<String> features() {
        return Set.of("Routing");
    }
}
