package dev.sluice.agent.l7;

import com.google.protobuf.Message;
import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.api.NodeLayout;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.l7.envoy.EnvoyConfig;
import dev.sluice.l7.envoy.EnvoyConfigParser;
import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.gateway.GatewayRoutes;
import dev.sluice.l7.gateway.RouteStatus;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.xds.PgvValidator;
import dev.sluice.l7.xds.XdsResources;
import dev.sluice.l7.xds.XdsSnapshot;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.proxy.ProxyServer;
import dev.sluice.proxy.RouteTableSource;
import dev.sluice.proxy.xds.XdsClient;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * L7 traffic management: the envoy configurations of the cluster view (CiliumEnvoyConfig,
 * CiliumClusterwideEnvoyConfig, and Gateway API HTTPRoutes/GRPCRoutes whose parent is a Service, translated into
 * envoy configurations) compiled into Envoy v3 resources and served to the node's proxy over xDS, and the
 * Service ports they name redirected to the proxy. Each redirected Service port gets its own proxy port
 * ({@link ProxyPorts}) and Listener, so the port a connection arrives on names the Service it was sent to. Load
 * balancing (which runs after this subsystem) gives each redirected Service port one backend, that listener on
 * the pods' gateway address, so socket-level and per-packet LB send the traffic there; every other Service port
 * never reaches the proxy.
 *
 * <p>The path is the one a separate proxy process (or a stock Envoy) takes: the agent serves the resources on
 * the node's xDS socket ({@link XdsServer}); the proxy, started here in the agent's process with the first
 * configuration, is an {@link XdsClient} of that socket and builds its route table and listeners from what it
 * receives. A change is redirected once the proxy ACKed it (at most {@link #ACK_WAIT_MS} later), so load
 * balancing never sends traffic to a listener the proxy has not bound yet.
 */
public final class L7Subsystem implements Subsystem {
    /** The first proxy port on the pods' gateway address of its node (each redirected Service port has its own). */
    public static final int PROXY_PORT = ProxyPorts.FIRST;
    /** How long a change waits for the proxy's ACK before load balancing is told the new redirects anyway. */
    static final long ACK_WAIT_MS = 5_000;
    /** Access records waiting to become flows: a second of a busy proxy's requests. */
    private static final int ACCESS_LOG_QUEUE = 65_536;

    private final NodeLayout layout;
    private final String node;
    private volatile String gateway = "";
    private final RouteTableSource.Updatable routes = RouteTableSource.updatable(RouteTable.empty());
    private final ProxyPorts proxyPorts = new ProxyPorts();
    private volatile Map<String, String> redirects = Map.of();
    private volatile Set<String> targets = Set.of();
    private volatile List<String> warnings = List.of();
    /** The Service ports redirected for L7 policy ({@code ns/name:port}). */
    private volatile List<String> policyPorts = List.of();
    private volatile List<String> listenerProblems = List.of();
    private XdsServer xds;
    private volatile List<RouteStatus> routeStatuses = List.of();
    private ProxyServer proxy;
    private XdsClient client;
    private String servedVersion = "";
    private volatile dev.sluice.proxy.Admission admission = (client, backend) -> java.util.Optional.of("no policy decision yet");

    /** How the proxy decides whether a client may reach a backend (network policy, by identity). */
    public void admission(dev.sluice.proxy.Admission admission) {
        this.admission = admission;
    }
    private RouteTable table = RouteTable.empty();
    private volatile dev.sluice.proxy.AccessLog accessSink = dev.sluice.proxy.AccessLog.NONE;
    private dev.sluice.proxy.AccessLogQueue accessLog;

    /**
     * Where the proxy's access records go (the node's L7 flows). The proxy reports through a bounded queue, so a slow
     * sink loses records (counted in status) rather than slowing requests.
     */
    public void accessLog(dev.sluice.proxy.AccessLog sink) {
        this.accessSink = sink;
    }

    /** @param layout the node (its pods' gateway address, from the cluster view, is where the proxy listens) and its run directory */
    public L7Subsystem(NodeLayout layout) {
        this.layout = layout;
        this.node = layout.node();
    }

    @Override
    public String name() {
        return "Proxy";
    }

    @Override
    public boolean concerns(ClusterChange change) {
        // Configurations, and the pods and Services their clusters resolve to.
        return change.touches(Kind.OBJECT, Kind.POD, Kind.SERVICE);
    }

    @Override
    public Applied apply(ClusterChange change) {
        List<String> found = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        List<EnvoyConfig> configs = new ArrayList<>();
        for (OtherObject o : change.view().objects()) {
            if (!EnvoyConfigParser.isEnvoyConfig(o)) {
                continue;
            }
            try {
                configs.add(EnvoyConfigParser.parse(o, found::add));
            } catch (ManifestException e) {
                problems.add(e.getMessage().lines().findFirst().orElse(e.getMessage()) + " (not proxied)");
            }
        }
        // Gateway API mesh routes (HTTPRoute, GRPCRoute with a Service parent) become envoy configurations too.
        GatewayRoutes.Translation mesh = GatewayRoutes.translate(change.view(), found::add);
        configs.addAll(mesh.configs());
        mesh.problems().forEach(p -> problems.add(p + " (not proxied)"));
        routeStatuses = mesh.statuses();
        RouteTable compiled = L7Compiler.compile(configs, change.view(), found::add);
        // L7 policy (CiliumNetworkPolicy rules.http) sends its Service ports through the proxy too.
        L7PolicyRoutes.Result withPolicy = L7PolicyRoutes.add(compiled, change.view(), found::add);
        compiled = withPolicy.table();
        policyPorts = withPolicy.policyPorts();
        gateway = change.view().node(node).map(n -> n.podGateway()).orElseThrow(
                () -> new IllegalStateException("node " + node + " is not in the cluster view"));
        Map<String, Integer> ports = proxyPorts.assign(compiled.services().stream().map(ServiceRoutes::key).toList());
        XdsSnapshot snapshot = XdsResources.of(compiled, gateway, ports);
        List<String> invalid = new ArrayList<>();
        for (Message m : snapshot.all()) {
            PgvValidator.validate(m).forEach(invalid::add);
        }
        if (!invalid.isEmpty()) {
            // Envoy would refuse the set: keep serving the last one (and its redirects).
            problems.add("the compiled xDS resources break Envoy's rules, the previous ones stay in force: "
                    + String.join("; ", invalid.subList(0, Math.min(3, invalid.size()))));
            return new Applied(problems, false);
        }
        if (xds == null) {
            xds = XdsServer.start(layout.xdsSocket());
            System.out.println("agent: serving xDS (ADS) on " + xds.socket());
        }
        servedVersion = xds.serve(node, snapshot);
        if (!compiled.services().isEmpty() && proxy == null) {
            accessLog = new dev.sluice.proxy.AccessLogQueue(record -> accessSink.record(record), ACCESS_LOG_QUEUE);
            proxy = ProxyServer.create(routes, ProxyServer.Options.defaults(), new dev.sluice.proxy.Admission() {
                // Read per request: the agent wires policy in after the proxy starts.
                @Override
                public java.util.Optional<String> deny(java.net.InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
                    return admission.deny(client, backend);
                }

                @Override
                public dev.sluice.l7.policy.Admitted decide(java.net.InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
                    return admission.decide(client, backend);
                }
            }, accessLog);
            client = new XdsClient(xds.socket(), node, config -> {
                routes.set(config.table());
                listenerProblems = proxy.listen(config.listeners());
                listenerProblems.forEach(p -> System.out.println("agent: L7 proxy: " + p));
            }, layout.proxyConfigDump()).start();
            System.out.println("agent: L7 proxy started (" + proxy.transport() + "), an xDS client of " + xds.socket());
        }
        if (proxy != null) {
            try {
                if (!xds.awaitAck(node, ACK_WAIT_MS)) {
                    problems.add("the proxy has not ACKed xDS version " + servedVersion
                            + xds.lastNack(node).map(n -> " (NACK: " + n.message() + ")").orElse(""));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        table = compiled;
        Map<String, String> next = new LinkedHashMap<>();
        ports.forEach((service, port) -> next.put(service, gateway + ":" + port));
        redirects = Map.copyOf(next);
        targets = compiled.clusters().values().stream().flatMap(c -> c.endpoints().stream())
                .map(e -> e.address() + ":" + e.port()).collect(Collectors.toUnmodifiableSet());
        if (!found.equals(warnings)) {
            found.forEach(w -> System.out.println("agent: L7: " + w));
        }
        warnings = List.copyOf(found);
        return new Applied(problems, false);
    }

    /**
     * The Service ports to send to the proxy: {@code namespace/name:port} to the proxy's {@code address:port}.
     * Load balancing reads it after this subsystem applied a change.
     */
    public Map<String, String> redirects() {
        return redirects;
    }

    /** Every pod {@code ip:port} the proxies forward to (policy lets other nodes' proxies reach them). */
    public Set<String> targets() {
        return targets;
    }

    @Override
    public List<Line> status() {
        List<Line> lines = new ArrayList<>();
        if (proxy == null) {
            lines.add(new Line("Proxy", "Idle: no envoy configuration, Gateway API route or L7 policy names a Service; no traffic is redirected"
                    + (xds == null ? "" : "; xDS served on " + xds.socket())));
        } else {
            var s = proxy.stats();
            String acked = xds.ackedVersion(node).map(v -> "xDS version " + v + " acked")
                    .orElse("xDS version " + servedVersion + " served, not acked"
                            + xds.lastNack(node).map(n -> " (NACK of " + n.type().substring(n.type().lastIndexOf('.') + 1)
                            + " version " + n.version() + ": " + n.message() + ")").orElse(""));
            Map<String, String> listening = new TreeMap<>(proxy.listeners());
            lines.add(new Line("Proxy", "Ok (in the agent's process, " + proxy.transport() + "); " + acked + "; "
                    + listening.size() + " listener(s): " + listening.entrySet().stream().map(e -> e.getKey() + " on " + e.getValue())
                            .collect(Collectors.joining(", "))
                    + "; " + redirects.size() + " Service port(s) redirected: " + table.describe()
                    + (policyPorts.isEmpty() ? "" : "; L7 policy on " + String.join(", ", policyPorts))
                    + "; " + s.downstreamConnections() + " downstream connection(s), " + s.requests() + " request(s)"
                    + (s.timeouts() == 0 ? "" : "; " + s.timeouts() + " request(s) timed out")
                    + (accessLog.dropped() == 0 ? "" : "; " + accessLog.dropped() + " access record(s) lost (flows behind)")
                    + (listenerProblems.isEmpty() ? "" : "; " + String.join("; ", listenerProblems))
                    + (warnings.isEmpty() ? "" : "; " + warnings.size() + " warning(s), first: " + warnings.getFirst())));
        }
        // One line per Gateway API route and parent, with its conditions (what `sluice lab get routes` lists).
        routeStatuses.forEach(r -> lines.add(new Line(ROUTE_LINE, r.toString())));
        return lines;
    }

    /** The status key of a Gateway API route's line. */
    public static final String ROUTE_LINE = "Route";

    @Override
    public Set<String> features() {
        return Set.of("ServiceMesh");
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (xds != null) {
            xds.close();
        }
        if (accessLog != null) {
            accessLog.close();
        }
    }
}
