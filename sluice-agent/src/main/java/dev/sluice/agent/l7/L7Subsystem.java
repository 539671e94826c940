package dev.sluice.agent.l7;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.l7.envoy.EnvoyConfig;
import dev.sluice.l7.envoy.EnvoyConfigParser;
import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.gateway.GatewayRoutes;
import dev.sluice.l7.gateway.RouteStatus;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.proxy.ProxyServer;
import dev.sluice.proxy.RouteTableSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * L7 traffic management: the envoy configurations of the cluster view (CiliumEnvoyConfig,
 * CiliumClusterwideEnvoyConfig, and Gateway API HTTPRoutes/GRPCRoutes whose parent is a Service, translated into
 * envoy configurations) compiled into the node proxy's route table, and the Service ports they name
 * redirected to the proxy. Load balancing (which runs after this subsystem) gives each redirected Service port
 * one backend, the proxy's listener on the pods' gateway address, so socket-level and per-packet LB send the
 * traffic there; every other Service port never reaches the proxy.
 *
 * <p>First slice: the proxy runs inside the agent's process (started with the first configuration), and is
 * configured directly from the compiled table; its own process and xDS are the next steps (docs/l7.md).
 */
public final class L7Subsystem implements Subsystem {
    /** The proxy's port on the pods' gateway address of its node. */
    public static final int PROXY_PORT = 15001;

    private final String node;
    private volatile String gateway = "";
    private final RouteTableSource.Updatable routes = RouteTableSource.updatable(RouteTable.empty());
    private volatile Map<String, String> redirects = Map.of();
    private volatile Set<String> targets = Set.of();
    private volatile List<String> warnings = List.of();
    private volatile List<RouteStatus> routeStatuses = List.of();
    private ProxyServer proxy;
    private volatile dev.sluice.proxy.Admission admission = (client, backend) -> java.util.Optional.of("no policy decision yet");

    /** How the proxy decides whether a client may reach a backend (network policy, by identity). */
    public void admission(dev.sluice.proxy.Admission admission) {
        this.admission = admission;
    }
    private RouteTable table = RouteTable.empty();

    /** @param node the node whose pods' gateway address (from the cluster view) the proxy is reached at */
    public L7Subsystem(String node) {
        this.node = node;
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
        gateway = change.view().node(node).map(n -> n.podGateway()).orElseThrow(
                () -> new IllegalStateException("node " + node + " is not in the cluster view"));
        if (!compiled.services().isEmpty() && proxy == null) {
            try {
                proxy = ProxyServer.start(routes, InetAddress.getByName("0.0.0.0"), PROXY_PORT, ProxyServer.Options.defaults(),
                        (client, backend) -> admission.deny(client, backend));
                System.out.println("agent: L7 proxy listening on " + gateway + ":" + PROXY_PORT + " (" + proxy.transport() + ")");
            } catch (IOException e) {
                throw new UncheckedIOException("the L7 proxy cannot start: " + e.getMessage(), e);
            }
        }
        routes.set(compiled);
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
        List<Line> lines = new ArrayList<>();
        if (proxy == null) {
            lines.add(new Line("Proxy", "Idle: no envoy configuration or Gateway API route names a Service; no traffic is redirected"));
        } else {
            var s = proxy.stats();
            lines.add(new Line("Proxy", "Ok (in the agent's process), listening on " + gateway + ":" + PROXY_PORT + " ("
                    + proxy.transport() + "); " + redirects.size() + " Service port(s) redirected: " + table.describe()
                    + "; " + s.downstreamConnections() + " downstream connection(s)"
                    + (s.timeouts() == 0 ? "" : "; " + s.timeouts() + " request(s) timed out")
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
        if (proxy != null) {
            proxy.close();
        }
    }
}
