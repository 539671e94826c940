package dev.sluice.l7.envoy;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.TargetPort;
import dev.sluice.model.cluster.ClusterView;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Compiles envoy configurations against the cluster view into the proxy's {@link RouteTable}: for every Service
 * port a configuration names, its virtual hosts and routes, and for every cluster a route names, its endpoints.
 *
 * <p>A cluster {@code ns/name} (its EDS {@code serviceName}, else its own name; {@code ns/name:port} picks a port)
 * resolves to the ready endpoints of Service {@code name} in {@code ns}; where no such Service exists, to the ready
 * pods of Deployment {@code name} (the pods whose owner it is), on the target port of the Service port the request
 * was sent to. A STATIC cluster keeps the addresses its load assignment writes.
 *
 * <p>What Sluice cannot do yet (redirects, direct responses, cluster headers, ...) is left out with a warning:
 * the request then gets the next route that matches, or a 404, never a route it was not meant to take.
 */
public final class L7Compiler {

    private final ClusterView view;
    private final Consumer<String> warnings;
    private final Map<String, dev.sluice.l7.route.Cluster> clusters = new LinkedHashMap<>();
    private final List<ServiceRoutes> services = new ArrayList<>();

    private L7Compiler(ClusterView view, Consumer<String> warnings) {
        this.view = view;
        this.warnings = warnings;
    }

    public static RouteTable compile(List<EnvoyConfig> configs, ClusterView view, Consumer<String> warnings) {
        L7Compiler compiler = new L7Compiler(view, warnings);
        configs.forEach(compiler::add);
        return new RouteTable(compiler.services, compiler.clusters);
    }

    private void warn(EnvoyConfig config, String warning) {
        warnings.accept(config.source() + " (" + config.kindAndName() + "): " + warning);
    }

    private void add(EnvoyConfig config) {
        List<RouteConfiguration> routeConfigs = routeConfigurations(config);
        for (EnvoyConfig.ServiceRef ref : config.services()) {
            Optional<ServiceSpec> service = service(ref.namespace(), ref.name());
            if (service.isEmpty()) {
                warn(config, "Service " + ref.namespace() + "/" + ref.name() + " does not exist (yet): its traffic is not proxied");
                continue;
            }
            for (ServicePort port : service.get().ports()) {
                if (!ref.ports().isEmpty() && !ref.ports().contains(port.port())) {
                    continue;
                }
                List<VirtualHost> hosts = new ArrayList<>();
                String clusterIp = view.clusterIps().getOrDefault(ref.namespace() + "/" + ref.name(), "");
                Set<String> taken = new HashSet<>();
                routeConfigs.forEach(rc -> rc.getVirtualHostsList().forEach(vh ->
                        vh.getDomainsList().forEach(d -> taken.add(d.toLowerCase(Locale.ROOT)))));
                for (RouteConfiguration rc : routeConfigs) {
                    for (var vh : rc.getVirtualHostsList()) {
                        List<Route> routes = new ArrayList<>();
                        for (var r : vh.getRoutesList()) {
                            route(config, rc.getName() + "/" + vh.getName(), r, port).ifPresent(routes::add);
                        }
                        hosts.add(new VirtualHost(vh.getName(),
                                withAliases(vh.getDomainsList(), ref.namespace(), ref.name(), port.port(), clusterIp, taken), routes));
                    }
                }
                services.add(new ServiceRoutes(ref.namespace(), ref.name(), port.port(), clusterIp, config.kindAndName(), hosts));
            }
        }
    }

    /**
     * A virtual host's domains, and where one of them is the Service's own short name ({@code name} or
     * {@code name:port}), the Service's other names with the same port part: {@code name.ns}, {@code name.ns.svc},
     * {@code name.ns.svc.cluster.local} and its ClusterIP. A client that calls the Service by ClusterIP or by its
     * full name then finds the routes written for its short name (the proxy searches only the Service port the
     * connection was sent to, so these names cannot take another Service's traffic). A name another virtual host
     * already has is not added: Envoy refuses a domain twice in one route configuration.
     */
    static List<String> withAliases(List<String> domains, String namespace, String name, int port, String clusterIp,
                                    Set<String> taken) {
        List<String> out = new ArrayList<>(domains);
        List<String> others = new ArrayList<>(List.of(name + "." + namespace, name + "." + namespace + ".svc",
                name + "." + namespace + ".svc.cluster.local"));
        if (!clusterIp.isEmpty()) {
            others.add(clusterIp);
        }
        for (String domain : domains) {
            String d = domain.toLowerCase(Locale.ROOT);
            String suffix;
            if (d.equals(name)) {
                suffix = "";
            } else if (d.equals(name + ":" + port)) {
                suffix = ":" + port;
            } else {
                continue;
            }
            for (String other : others) {
                if (taken.add(other + suffix)) {
                    out.add(other + suffix);
                }
            }
        }
        return out;
    }

    /** The route configurations the configuration's listeners use, or all of them when it has no listener. */
    private List<RouteConfiguration> routeConfigurations(EnvoyConfig config) {
        if (config.listeners().isEmpty()) {
            return config.routes();
        }
        List<RouteConfiguration> used = new ArrayList<>();
        for (Listener listener : config.listeners()) {
            for (FilterChain chain : listener.getFilterChainsList()) {
                for (Filter filter : chain.getFiltersList()) {
                    Any typed = filter.getTypedConfig();
                    if (!typed.is(HttpConnectionManager.class)) {
                        warn(config, "listener " + listener.getName() + ": filter " + filter.getName()
                                + " is not an HTTP connection manager; Sluice proxies HTTP only");
                        continue;
                    }
                    HttpConnectionManager hcm;
                    try {
                        hcm = typed.unpack(HttpConnectionManager.class);
                    } catch (InvalidProtocolBufferException e) {
                        warn(config, "listener " + listener.getName() + ": " + e.getMessage());
                        continue;
                    }
                    switch (hcm.getRouteSpecifierCase()) {
                        case ROUTE_CONFIG -> used.add(hcm.getRouteConfig());
                        case RDS -> {
                            String name = hcm.getRds().getRouteConfigName();
                            config.routes().stream().filter(r -> r.getName().equals(name)).findFirst()
                                    .ifPresentOrElse(used::add, () -> warn(config, "listener " + listener.getName()
                                            + " names route configuration " + name + ", which the configuration does not hold"));
                        }
                        default -> warn(config, "listener " + listener.getName() + ": scoped routes are not supported");
                    }
                }
            }
        }
        return used;
    }

    private Optional<Route> route(EnvoyConfig config, String where, io.envoyproxy.envoy.config.route.v3.Route r,
                                  ServicePort frontend) {
        String name = where + "/" + (r.getName().isEmpty() ? "route" : r.getName());
        Route route;
        try {
            route = RouteProtos.route(name, r, lost -> warn(config, name + ": " + lost));
        } catch (RouteProtos.Unsupported e) {
            warn(config, name + ": " + e.getMessage() + "; route left out");
            return Optional.empty();
        }
        for (WeightedCluster target : route.clusters()) {
            // A route that says what a missing cluster answers (Gateway API's unresolved backendRefs) takes a
            // cluster its configuration does not define as missing, as Envoy does with a cluster CDS lacks.
            boolean defined = config.clusters().stream().anyMatch(c -> c.getName().equals(target.cluster()));
            if (defined || r.getRoute().getClusterNotFoundResponseCode() == RouteAction.ClusterNotFoundResponseCode.SERVICE_UNAVAILABLE) {
                resolve(config, target.cluster(), frontend);
            }
        }
        return Optional.of(route);
    }

    /** Resolves cluster {@code name} once (the first Service port that routes to it decides its port). */
    private void resolve(EnvoyConfig config, String name, ServicePort frontend) {
        if (clusters.containsKey(name)) {
            return;
        }
        Optional<Cluster> definition = config.clusters().stream().filter(c -> c.getName().equals(name)).findFirst();
        if (definition.isEmpty()) {
            warn(config, "cluster " + name + " is not defined by the configuration; resolved as an EDS cluster of that name");
        }
        Cluster c = definition.orElse(Cluster.newBuilder().setName(name).setType(Cluster.DiscoveryType.EDS).build());
        LbPolicy lb;
        try {
            lb = RouteProtos.lbPolicy(c);
        } catch (RouteProtos.Unsupported e) {
            warn(config, "cluster " + name + ": " + e.getMessage() + "; round robin instead");
            lb = LbPolicy.ROUND_ROBIN;
        }
        Duration timeout = RouteProtos.connectTimeout(c);
        boolean http2 = RouteProtos.http2(c);
        List<Endpoint> endpoints;
        Optional<ClusterLoadAssignment> assignment = c.hasLoadAssignment() ? Optional.of(c.getLoadAssignment())
                : config.loadAssignments().stream().filter(a -> a.getClusterName().equals(name)).findFirst();
        if (c.getType() == Cluster.DiscoveryType.STATIC || (c.getType() != Cluster.DiscoveryType.EDS && assignment.isPresent())) {
            endpoints = assignment.map(L7Compiler::addresses).orElse(List.of());
        } else {
            String serviceName = c.hasEdsClusterConfig() && !c.getEdsClusterConfig().getServiceName().isEmpty()
                    ? c.getEdsClusterConfig().getServiceName() : name;
            endpoints = endpointsOf(config, name, serviceName, frontend);
        }
        dev.sluice.l7.route.OutlierDetection outliers = null;
        try {
            outliers = RouteProtos.outlierDetection(c);
        } catch (RouteProtos.Unsupported e) {
            warn(config, "cluster " + name + ": " + e.getMessage() + "; no outlier detection");
        }
        clusters.put(name, new dev.sluice.l7.route.Cluster(name, lb, timeout, endpoints, http2, outliers));
    }

    private static List<Endpoint> addresses(ClusterLoadAssignment assignment) {
        List<Endpoint> endpoints = new ArrayList<>();
        for (LocalityLbEndpoints locality : assignment.getEndpointsList()) {
            for (LbEndpoint e : locality.getLbEndpointsList()) {
                var socket = e.getEndpoint().getAddress().getSocketAddress();
                endpoints.add(new Endpoint(socket.getAddress(), socket.getPortValue(), ""));
            }
        }
        return endpoints;
    }

    /** The ready endpoints of Service {@code ns/name[:port]}, else of the Deployment of that name. */
    private List<Endpoint> endpointsOf(EnvoyConfig config, String cluster, String serviceName, ServicePort frontend) {
        String ns = config.namespace();
        String rest = serviceName;
        int slash = serviceName.indexOf('/');
        if (slash >= 0) {
            ns = serviceName.substring(0, slash);
            rest = serviceName.substring(slash + 1);
        }
        Integer explicitPort = null;
        int colon = rest.lastIndexOf(':');
        if (colon >= 0) {
            try {
                explicitPort = Integer.parseInt(rest.substring(colon + 1));
                rest = rest.substring(0, colon);
            } catch (NumberFormatException e) {
                warn(config, "cluster " + cluster + ": \"" + serviceName + "\" has no port number after ':'");
            }
        }
        if (ns == null) {
            warn(config, "cluster " + cluster + ": \"" + serviceName + "\" names no namespace; it has no endpoints");
            return List.of();
        }
        String namespace = ns;
        String name = rest;
        Optional<ServiceSpec> service = service(namespace, name);
        List<Endpoint> endpoints = new ArrayList<>();
        if (service.isPresent()) {
            ServiceSpec s = service.get();
            Integer want = explicitPort;
            Optional<ServicePort> port = s.ports().stream()
                    .filter(p -> want != null ? p.port() == want : p.port() == frontend.port()).findFirst();
            if (port.isEmpty() && want == null && s.ports().size() == 1) {
                port = Optional.of(s.ports().getFirst());
            }
            if (port.isEmpty() || s.selector().isEmpty()) {
                warn(config, "cluster " + cluster + ": Service " + namespace + "/" + name
                        + (port.isEmpty() ? " has no port " + (want != null ? want : frontend.port()) : " selects no pods")
                        + "; it has no endpoints");
                return List.of();
            }
            TargetPort target = port.get().targetPort();
            for (ClusterView.Pod pod : view.pods()) {
                if (pod.ready() && pod.namespace().equals(namespace)
                        && pod.labels().entrySet().containsAll(s.selector().entrySet())) {
                    targetPort(pod, target).ifPresent(p -> endpoints.add(new Endpoint(pod.ip(), p, pod.key())));
                }
            }
            return endpoints;
        }
        boolean deploymentKnown = view.pods().stream().anyMatch(p -> p.namespace().equals(namespace) && p.owner().equals(name));
        if (!deploymentKnown) {
            warn(config, "cluster " + cluster + ": neither a Service nor pods of a Deployment named " + namespace + "/" + name
                    + " exist; it has no endpoints");
            return List.of();
        }
        TargetPort target = explicitPort != null ? TargetPort.of(explicitPort) : frontend.targetPort();
        for (ClusterView.Pod pod : view.pods()) {
            if (pod.ready() && pod.namespace().equals(namespace) && pod.owner().equals(name)) {
                targetPort(pod, target).ifPresent(p -> endpoints.add(new Endpoint(pod.ip(), p, pod.key())));
            }
        }
        return endpoints;
    }

    private static Optional<Integer> targetPort(ClusterView.Pod pod, TargetPort target) {
        if (pod.ip() == null || pod.ip().isEmpty()) {
            return Optional.empty();
        }
        if (!target.named()) {
            return Optional.of(target.number());
        }
        return pod.ports().stream().filter(p -> target.name().equals(p.name())).map(ContainerPort::port).findFirst();
    }

    private Optional<ServiceSpec> service(String namespace, String name) {
        return view.services().stream()
                .filter(s -> s.ref().name().equals(name) && namespace.equals(s.ref().namespace())).findFirst();
    }
}
