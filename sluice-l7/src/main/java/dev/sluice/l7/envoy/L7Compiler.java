package dev.sluice.l7.envoy;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMatch;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.l7.route.QueryMatch;
import dev.sluice.l7.route.RetryPolicy;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.StringMatch;
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
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;

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
    static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Envoy's route timeout when a route sets none. */
    static final Duration DEFAULT_ROUTE_TIMEOUT = Duration.ofSeconds(15);

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
        RouteMatch m = r.getMatch();
        Route.PathKind kind;
        String path;
        switch (m.getPathSpecifierCase()) {
            case PREFIX -> { kind = Route.PathKind.PREFIX; path = m.getPrefix(); }
            case PATH -> { kind = Route.PathKind.PATH; path = m.getPath(); }
            case SAFE_REGEX -> { kind = Route.PathKind.REGEX; path = m.getSafeRegex().getRegex(); }
            case PATH_SEPARATED_PREFIX -> { kind = Route.PathKind.SEPARATED_PREFIX; path = m.getPathSeparatedPrefix(); }
            default -> {
                warn(config, name + ": path match " + m.getPathSpecifierCase() + " is not supported; route left out");
                return Optional.empty();
            }
        }
        boolean caseSensitive = !m.hasCaseSensitive() || m.getCaseSensitive().getValue();
        List<HeaderMatch> headers = new ArrayList<>();
        for (HeaderMatcher h : m.getHeadersList()) {
            Optional<HeaderMatch> hm = header(h);
            if (hm.isEmpty()) {
                warn(config, name + ": header match on " + h.getName() + " (" + h.getHeaderMatchSpecifierCase()
                        + ") is not supported; route left out");
                return Optional.empty();
            }
            headers.add(hm.get());
        }
        List<QueryMatch> queries = new ArrayList<>();
        for (QueryParameterMatcher q : m.getQueryParametersList()) {
            switch (q.getQueryParameterMatchSpecifierCase()) {
                case STRING_MATCH -> {
                    Optional<StringMatch> sm = stringMatch(q.getStringMatch());
                    if (sm.isEmpty()) {
                        warn(config, name + ": query match on " + q.getName() + " (" + q.getStringMatch().getMatchPatternCase()
                                + ") is not supported; route left out");
                        return Optional.empty();
                    }
                    queries.add(new QueryMatch(q.getName(), sm.get()));
                }
                case PRESENT_MATCH, QUERYPARAMETERMATCHSPECIFIER_NOT_SET -> queries.add(new QueryMatch(q.getName(), null));
            }
        }
        if (m.hasGrpc() || m.hasRuntimeFraction()) {
            warn(config, name + ": gRPC and runtime matches are not supported; route left out");
            return Optional.empty();
        }
        HeaderMutation mutation;
        try {
            mutation = mutation(r);
        } catch (IllegalArgumentException e) {
            warn(config, name + ": request headers: " + e.getMessage() + "; route left out");
            return Optional.empty();
        }
        if (r.getActionCase() != io.envoyproxy.envoy.config.route.v3.Route.ActionCase.ROUTE) {
            warn(config, name + ": action " + r.getActionCase() + " is not supported; route left out");
            return Optional.empty();
        }
        var action = r.getRoute();
        List<WeightedCluster> targets = new ArrayList<>();
        switch (action.getClusterSpecifierCase()) {
            case CLUSTER -> targets.add(new WeightedCluster(action.getCluster(), 1));
            case WEIGHTED_CLUSTERS -> action.getWeightedClusters().getClustersList().forEach(c ->
                    targets.add(new WeightedCluster(c.getName(), c.hasWeight() ? c.getWeight().getValue() : 0)));
            default -> {
                warn(config, name + ": cluster specifier " + action.getClusterSpecifierCase() + " is not supported; route left out");
                return Optional.empty();
            }
        }
        if (targets.stream().mapToInt(WeightedCluster::weight).sum() == 0) {
            warn(config, name + ": the weights of its clusters add up to 0; route left out");
            return Optional.empty();
        }
        int notFound = switch (action.getClusterNotFoundResponseCode()) {
            case NOT_FOUND -> 404;
            case INTERNAL_SERVER_ERROR -> 500;
            default -> 503;
        };
        for (WeightedCluster target : targets) {
            // A route that says what a missing cluster answers (Gateway API's unresolved backendRefs) takes a
            // cluster its configuration does not define as missing, as Envoy does with a cluster CDS lacks.
            boolean defined = config.clusters().stream().anyMatch(c -> c.getName().equals(target.cluster()));
            if (defined || action.getClusterNotFoundResponseCode() == RouteAction.ClusterNotFoundResponseCode.SERVICE_UNAVAILABLE) {
                resolve(config, target.cluster(), frontend);
            }
        }
        RetryPolicy retry = null;
        if (action.hasRetryPolicy()) {
            retry = retryPolicy(config, name, action.getRetryPolicy());
        }
        // Envoy's default route timeout is 15 s; 0 disables it.
        Duration timeout = action.hasTimeout()
                ? Duration.ofSeconds(action.getTimeout().getSeconds(), action.getTimeout().getNanos())
                : DEFAULT_ROUTE_TIMEOUT;
        return Optional.of(new Route(name, kind, path, caseSensitive, headers, queries, targets, mutation, timeout, notFound, retry));
    }

    /**
     * The retry policy's conditions Sluice implements; the others, and the policy's other fields (back-off, host
     * predicates, ...), are warned about and left out (the retries then happen without them).
     */
    private RetryPolicy retryPolicy(EnvoyConfig config, String name, io.envoyproxy.envoy.config.route.v3.RetryPolicy p) {
        java.util.Set<String> on = new java.util.LinkedHashSet<>();
        for (String condition : p.getRetryOn().split(",")) {
            String c = condition.strip();
            if (c.isEmpty()) {
                continue;
            }
            if (RetryPolicy.CONDITIONS.contains(c)) {
                on.add(c);
            } else {
                warn(config, name + ": retryPolicy.retryOn \"" + c + "\" is not supported; not retried on it");
            }
        }
        if (p.hasRetryBackOff() || p.getRetryHostPredicateCount() > 0 || p.hasRetryPriority()
                || p.getRetriableHeadersCount() > 0 || p.getRetriableRequestHeadersCount() > 0 || p.hasRateLimitedRetryBackOff()) {
            warn(config, name + ": retryPolicy: only retryOn, numRetries, perTryTimeout and retriableStatusCodes are supported; "
                    + "the rest is not applied (retries go at once, to another backend when there is one)");
        }
        Duration perTry = p.hasPerTryTimeout()
                ? Duration.ofSeconds(p.getPerTryTimeout().getSeconds(), p.getPerTryTimeout().getNanos()) : Duration.ZERO;
        // Envoy's default number of retries when a policy is given is 1.
        int retries = p.hasNumRetries() ? p.getNumRetries().getValue() : 1;
        return new RetryPolicy(on, retries, perTry, new java.util.HashSet<>(p.getRetriableStatusCodesList()));
    }

    /** Route-level request header changes: remove, then set (OVERWRITE_IF_EXISTS_OR_ADD), then add (append). */
    private static HeaderMutation mutation(io.envoyproxy.envoy.config.route.v3.Route r) {
        List<Map.Entry<String, String>> set = new ArrayList<>();
        List<Map.Entry<String, String>> add = new ArrayList<>();
        for (HeaderValueOption o : r.getRequestHeadersToAddList()) {
            var entry = Map.entry(o.getHeader().getKey(), o.getHeader().getValue());
            boolean append = o.hasAppend() ? o.getAppend().getValue()
                    : o.getAppendAction() == HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD;
            if (o.getAppendAction() == HeaderValueOption.HeaderAppendAction.ADD_IF_ABSENT
                    || o.getAppendAction() == HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS) {
                throw new IllegalArgumentException("append action " + o.getAppendAction() + " of " + o.getHeader().getKey()
                        + " is not supported");
            }
            (append ? add : set).add(entry);
        }
        return new HeaderMutation(set, add, r.getRequestHeadersToRemoveList());
    }

    private static Optional<HeaderMatch> header(HeaderMatcher h) {
        boolean invert = h.getInvertMatch();
        return Optional.ofNullable(switch (h.getHeaderMatchSpecifierCase()) {
            case EXACT_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.EXACT, h.getExactMatch(), false), true, invert);
            case PREFIX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.PREFIX, h.getPrefixMatch(), false), true, invert);
            case SUFFIX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.SUFFIX, h.getSuffixMatch(), false), true, invert);
            case CONTAINS_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.CONTAINS, h.getContainsMatch(), false), true, invert);
            case SAFE_REGEX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.REGEX, h.getSafeRegexMatch().getRegex(), false), true, invert);
            case PRESENT_MATCH -> new HeaderMatch(h.getName(), null, h.getPresentMatch(), invert);
            case STRING_MATCH -> stringMatch(h.getStringMatch()).map(s -> new HeaderMatch(h.getName(), s, true, invert)).orElse(null);
            case HEADERMATCHSPECIFIER_NOT_SET -> new HeaderMatch(h.getName(), null, true, invert);
            default -> null;
        });
    }

    private static Optional<StringMatch> stringMatch(StringMatcher s) {
        boolean ic = s.getIgnoreCase();
        return Optional.ofNullable(switch (s.getMatchPatternCase()) {
            case EXACT -> new StringMatch(StringMatch.Kind.EXACT, s.getExact(), ic);
            case PREFIX -> new StringMatch(StringMatch.Kind.PREFIX, s.getPrefix(), ic);
            case SUFFIX -> new StringMatch(StringMatch.Kind.SUFFIX, s.getSuffix(), ic);
            case CONTAINS -> new StringMatch(StringMatch.Kind.CONTAINS, s.getContains(), ic);
            case SAFE_REGEX -> new StringMatch(StringMatch.Kind.REGEX, s.getSafeRegex().getRegex(), ic);
            default -> null;
        });
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
        LbPolicy lb = switch (c.getLbPolicy()) {
            case ROUND_ROBIN -> LbPolicy.ROUND_ROBIN;
            case LEAST_REQUEST -> LbPolicy.LEAST_REQUEST;
            case RANDOM -> LbPolicy.RANDOM;
            default -> {
                warn(config, "cluster " + name + ": lb policy " + c.getLbPolicy() + " is not supported; round robin instead");
                yield LbPolicy.ROUND_ROBIN;
            }
        };
        Duration timeout = c.hasConnectTimeout()
                ? Duration.ofSeconds(c.getConnectTimeout().getSeconds(), c.getConnectTimeout().getNanos())
                : DEFAULT_CONNECT_TIMEOUT;
        boolean http2 = c.hasHttp2ProtocolOptions() || c.containsTypedExtensionProtocolOptions(
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
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
        clusters.put(name, new dev.sluice.l7.route.Cluster(name, lb, timeout, endpoints, http2));
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
