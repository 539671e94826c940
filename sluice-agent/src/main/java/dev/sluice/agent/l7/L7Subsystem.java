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
import dev.sluice.linux.JavaCommand;
import dev.sluice.proxy.ProxyMain;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * <p>The agent serves the resources on the node's xDS socket ({@link XdsServer}); the proxy is a process of its
 * own ({@link ProxyMain}), started with the first configuration and kept running by a {@link ProxySupervisor}, an
 * xDS client of that socket that builds its route table and listeners from what it receives, and asks the agent
 * for admission over the control channel ({@link ProxyControlServer}), whose end makes it exit. A change is
 * redirected once the proxy ACKed it (at most {@link #ACK_WAIT_MS} later; {@link #FIRST_START_WAIT_MS} while the
 * first proxy starts), so load balancing never sends traffic to a listener the proxy has not bound yet.
 */
public final class L7Subsystem implements Subsystem {
    /** The first proxy port on the pods' gateway address of its node (each redirected Service port has its own). */
    public static final int PROXY_PORT = ProxyPorts.FIRST;
    /** How long a change waits for the proxy's ACK before load balancing is told the new redirects anyway. */
    static final long ACK_WAIT_MS = 5_000;
    /** How long the first configuration waits for the proxy process to start and ACK before its ports are redirected. */
    static final long FIRST_START_WAIT_MS = 20_000;
    /** Access records waiting to become flows: a second of a busy proxy's requests. */
    private static final int ACCESS_LOG_QUEUE = 65_536;

    private final NodeLayout layout;
    private final String node;
    private volatile String gateway = "";
    private final ProxyPorts proxyPorts = new ProxyPorts();
    private volatile Map<String, String> redirects = Map.of();
    private volatile Set<String> targets = Set.of();
    private volatile List<String> warnings = List.of();
    /** The Service ports redirected for L7 policy ({@code ns/name:port}). */
    private volatile List<String> policyPorts = List.of();
    private XdsServer xds;
    private volatile List<RouteStatus> routeStatuses = List.of();
    private ProxyControlServer control;
    private ProxySupervisor proxy;
    private String servedVersion = "";
    private volatile dev.sluice.proxy.Admission admission = (client, backend) -> java.util.Optional.of("no policy decision yet");
    private volatile java.util.function.LongSupplier policyRevision = () -> 0;

    /** How the proxy decides whether a client may reach a backend (network policy, by identity), and at which revision. */
    public void admission(dev.sluice.proxy.Admission admission, java.util.function.LongSupplier revision) {
        this.admission = admission;
        this.policyRevision = revision;
    }

    /** Policy changed: the proxy drops the admission answers it cached. */
    public void policyRevision(long revision) {
        ProxyControlServer c = control;
        if (c != null) {
            c.policyRevision(revision);
        }
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

    /** The proxy process's command line: a small JVM, C2 for the request path, in the agent's namespace and cgroup. */
    List<String> proxyCommand() {
        // As the agent: full tiered compilation (the proxy runs for days and its latency is set by compiled code),
        // a bounded code cache that does not trigger full GCs (see JvmAgentLauncher), two compiler threads, a small heap (the data path's buffers are direct, pooled).
        List<String> options = new ArrayList<>(List.of("-Xmx64m", "-XX:MaxDirectMemorySize=64m", "-XX:TieredStopAtLevel=4",
                "-XX:ReservedCodeCacheSize=" + dev.sluice.agent.JvmAgentLauncher.CODE_CACHE, "-XX:SweeperThreshold=100", "-XX:CICompilerCount=2", "-Xss512k"));
        String extra = System.getenv("SLUICE_PROXY_JVM_OPTS");
        if (extra != null && !extra.isBlank()) {
            options.addAll(List.of(extra.trim().split("\\s+")));
        }
        return JavaCommand.of(ProxyMain.class.getName(), options, List.of("--node", node,
                "--control", "unix:" + layout.proxyControlSocket(), "--xds", "unix:" + layout.xdsSocket(),
                "--config-dump", layout.proxyConfigDump().toString()));
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
        long ackWait = ACK_WAIT_MS;
        if (!compiled.services().isEmpty() && control == null) {
            // Throws (the change is retried, and status says why) when the socket cannot be bound.
            control = ProxyControlServer.start(layout.proxyControlSocket(), new dev.sluice.proxy.Admission() {
                // Read per question: the agent wires policy in after the subsystem is made.
                @Override
                public java.util.Optional<String> deny(java.net.InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
                    return admission.deny(client, backend);
                }

                @Override
                public dev.sluice.l7.policy.Admitted decide(java.net.InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
                    return admission.decide(client, backend);
                }
            }, () -> policyRevision.getAsLong());
            // The proxy's access records arrive on the report stream; a queue keeps a slow flow sink off it.
            accessLog = new dev.sluice.proxy.AccessLogQueue(record -> accessSink.record(record), ACCESS_LOG_QUEUE);
            control.accessLog(accessLog::record);
        }
        if (!compiled.services().isEmpty() && proxy == null) {
            proxy = new ProxySupervisor(proxyCommand(), layout.proxyLog());
            proxy.ensureStarted();
            // The first redirect waits for the process to start, connect and bind (until then the Service ports keep
            // reaching their pods directly, as before any configuration named them); from then on they stay
            // redirected through restarts: fail closed.
            ackWait = FIRST_START_WAIT_MS;
        }
        if (proxy != null) {
            try {
                if (!xds.awaitAck(node, ackWait)) {
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

    /** Empty: the proxy forwards from its clients' addresses; else why it forwards from the node's. */
    private volatile java.util.Optional<String> forwardingUnavailable = java.util.Optional.of("identity-preserving forwarding not set up");

    /** Whether the node can route replies to the proxy's client-source connections ({@link ProxyReplyRouting}). */
    public void forwarding(java.util.Optional<String> unavailable) {
        forwardingUnavailable = unavailable;
    }

    @Override
    public List<Line> status() {
        List<Line> lines = new ArrayList<>();
        if (proxy == null) {
            lines.add(new Line("Proxy", "Idle: no envoy configuration, Gateway API route or L7 policy names a Service; no traffic is redirected"
                    + (xds == null ? "" : "; xDS served on " + xds.socket())));
        } else {
            String acked = xds.ackedVersion(node).map(v -> "xDS version " + v + " acked")
                    .orElse("xDS version " + servedVersion + " served, not acked"
                            + xds.lastNack(node).map(n -> " (NACK of " + n.type().substring(n.type().lastIndexOf('.') + 1)
                            + " version " + n.version() + ": " + n.message() + ")").orElse(""));
            lines.add(new Line("Proxy", ProxyStatus.describe(proxy.state(), control.session(), control.stats(), acked,
                    System.currentTimeMillis()) + "; " + redirects.size() + " Service port(s) redirected: " + table.describe()
                    + (policyPorts.isEmpty() ? "" : "; L7 policy on " + String.join(", ", policyPorts))
                    + forwardingUnavailable.map(why -> "; Degraded: " + why)
                            .orElse("; forwarding from the clients' addresses (backends' policy sees their identities)")
                    + (accessLog.dropped() == 0 ? "" : "; " + accessLog.dropped() + " access record(s) lost (flows behind)")
                    + (warnings.isEmpty() ? "" : "; " + warnings.size() + " warning(s), first: " + warnings.getFirst())));
        }
        // One line per Gateway API route and parent, with its conditions (what `sluice lab get routes` lists).
        routeStatuses.forEach(r -> lines.add(new Line(ROUTE_LINE, r.toString())));
        return lines;
    }

    /** The status key of a Gateway API route's line. */
    public static final String ROUTE_LINE = "Route";

    /** The supervisor's view of the proxy process; empty before the first configuration. */
    public java.util.Optional<ProxySupervisor.State> proxyState() {
        return proxy == null ? java.util.Optional.empty() : java.util.Optional.of(proxy.state());
    }

    @Override
    public Set<String> features() {
        return Set.of("ServiceMesh");
    }

    @Override
    public void close() {
        if (proxy != null) {
            proxy.close();
        }
        if (control != null) {
            control.close();
        }
        if (xds != null) {
            xds.close();
        }
        if (accessLog != null) {
            accessLog.close();
        }
    }
}
