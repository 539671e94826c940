package dev.sluice.agent.l7;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.l7.envoy.EnvoyConfig;
import dev.sluice.l7.envoy.EnvoyConfigParser;
import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.agent.api.NodeLayout;
import dev.sluice.linux.JavaCommand;
import dev.sluice.proxy.ProxyMain;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * L7 traffic management: the envoy configurations of the cluster view (CiliumEnvoyConfig,
 * CiliumClusterwideEnvoyConfig) compiled into the node proxy's route table, and the Service ports they name
 * redirected to the proxy. Load balancing (which runs after this subsystem) gives each redirected Service port
 * one backend, the proxy's listener on the pods' gateway address, so socket-level and per-packet LB send the
 * traffic there; every other Service port never reaches the proxy.
 *
 * <p>The proxy is its own process ({@link ProxyMain}), started with the first configuration and kept running by a
 * {@link ProxySupervisor}; it takes its route table, admission and liveness from the agent over the control channel
 * ({@link ProxyControlServer}). xDS is the next step (docs/l7.md): the route table push on the control channel
 * stands in for it.
 */
public final class L7Subsystem implements Subsystem {
    /** The proxy's port on the pods' gateway address of its node. */
    public static final int PROXY_PORT = 15001;
    /** How long the first configuration waits for the proxy process to listen before its ports are redirected. */
    static final long FIRST_START_WAIT_MS = 20_000;

    private final String node;
    private final NodeLayout layout;
    private volatile String gateway = "";
    private volatile Map<String, String> redirects = Map.of();
    private volatile Set<String> targets = Set.of();
    private volatile List<String> warnings = List.of();
    private ProxyControlServer control;
    private ProxySupervisor proxy;
    private volatile dev.sluice.proxy.Admission admission = (client, backend) -> java.util.Optional.of("no policy decision yet");
    private volatile java.util.function.LongSupplier policyRevision = () -> 0;

    /** How the proxy decides whether a client may reach a backend (network policy, by identity). */
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

    /** @param layout the node whose pods' gateway address (from the cluster view) the proxy is reached at, and its paths */
    public L7Subsystem(NodeLayout layout) {
        this.node = layout.node();
        this.layout = layout;
    }

    /** The proxy process's command line: a small JVM, C2 for the request path, in the agent's namespace and cgroup. */
    List<String> proxyCommand() {
        // As the agent: full tiered compilation (the proxy runs for days and its latency is set by compiled code),
        // a bounded code cache, two compiler threads, a small heap (the data path's buffers are direct, pooled).
        List<String> options = new ArrayList<>(List.of("-Xmx64m", "-XX:MaxDirectMemorySize=64m", "-XX:TieredStopAtLevel=4",
                "-XX:ReservedCodeCacheSize=16m", "-XX:CICompilerCount=2", "-Xss512k"));
        String extra = System.getenv("SLUICE_PROXY_JVM_OPTS");
        if (extra != null && !extra.isBlank()) {
            options.addAll(List.of(extra.trim().split("\\s+")));
        }
        return JavaCommand.of(ProxyMain.class.getName(), options, List.of("--node", node,
                "--control", "unix:" + layout.proxyControlSocket(), "--listen", "0.0.0.0:" + PROXY_PORT));
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
        RouteTable compiled = L7Compiler.compile(configs, change.view(), found::add);
        gateway = change.view().node(node).map(n -> n.podGateway()).orElseThrow(
                () -> new IllegalStateException("node " + node + " is not in the cluster view"));
        if (!compiled.services().isEmpty() && control == null) {
            // Throws (the change is retried, and status says why) when the socket cannot be bound.
            control = ProxyControlServer.start(layout.proxyControlSocket(), (client, backend) -> admission.deny(client, backend),
                    () -> policyRevision.getAsLong());
        }
        if (control != null) {
            // Before the proxy starts, so that it serves with this table from its first request.
            control.routes(compiled);
        }
        if (!compiled.services().isEmpty() && proxy == null) {
            proxy = new ProxySupervisor(proxyCommand(), layout.proxyLog());
            proxy.ensureStarted();
            // The first time only, the Service ports go to the proxy once it listens (load balancing programs the
            // redirect after this returns): until then they keep reaching their pods directly, as before any
            // configuration named them. Once redirected they stay so, through restarts: fail closed.
            long waited = System.currentTimeMillis();
            boolean up = control.awaitListening(() -> proxy.state().pid(), FIRST_START_WAIT_MS);
            System.out.println("agent: L7 proxy " + (up ? "listening after " + (System.currentTimeMillis() - waited) + " ms"
                    : "not listening after " + FIRST_START_WAIT_MS + " ms; redirecting anyway (connections are refused until it is)"));
        }
        table = compiled;
        Map<String, String> next = new LinkedHashMap<>();
        for (ServiceRoutes s : compiled.services()) {
            next.put(s.namespace() + "/" + s.service() + ":" + s.port(), gateway + ":" + PROXY_PORT);
        }
        redirects = Map.copyOf(next);
        targets = compiled.clusters().values().stream().flatMap(c -> c.endpoints().stream())
                .map(e -> e.address() + ":" + e.port()).collect(java.util.stream.Collectors.toUnmodifiableSet());
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
        if (proxy == null) {
            return List.of(new Line("Proxy", "Idle: no envoy configuration names a Service; no traffic is redirected"));
        }
        return List.of(new Line("Proxy", ProxyStatus.describe(proxy.state(), control.session(), control.stats(),
                control.routesVersion(), gateway + ":" + PROXY_PORT, System.currentTimeMillis()) + "; " + redirects.size() + " Service port(s) redirected: "
                + table.describe()
                + (warnings.isEmpty() ? "" : "; " + warnings.size() + " warning(s), first: " + warnings.getFirst())));
    }

    /** The supervisor's view of the proxy process, for tests; empty before the first configuration. */
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
    }
}
