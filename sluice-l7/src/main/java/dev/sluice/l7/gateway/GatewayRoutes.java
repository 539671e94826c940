package dev.sluice.l7.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.UInt32Value;
import dev.sluice.l7.envoy.EnvoyConfig;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.Source;
import dev.sluice.model.cluster.ClusterView;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Gateway API's mesh routes (GAMMA): HTTPRoutes and GRPCRoutes ({@code gateway.networking.k8s.io/v1}) whose
 * parentRef is a Service, translated into Envoy v3 resources, one {@link EnvoyConfig} per Service port, so they
 * are compiled (and served) exactly as CiliumEnvoyConfigs are. The routes of every HTTPRoute and GRPCRoute on one
 * Service port are merged into one virtual host, ordered by Gateway API's precedence, and each route gets its
 * status per parent (Accepted, ResolvedRefs).
 *
 * <p>What is translated: path (Exact, PathPrefix, RegularExpression), header (Exact, RegularExpression), query
 * parameter (Exact, RegularExpression) and method matches; GRPCRoute method matches (service and/or method, Exact
 * or RegularExpression) as the path {@code /service/method}; weighted Service backendRefs (a weight of 0 is never
 * chosen); the RequestHeaderModifier filter; HTTPRoute {@code timeouts.request} and {@code backendRequest} as the
 * route's timeout. Anything else in a route (other filters, Gateway parents' listeners, session persistence,
 * retries, ...) refuses the route: its status says which file and field, and nothing of it is applied.
 *
 * <p>A backendRef Sluice cannot resolve (a missing Service or port) makes ResolvedRefs False (BackendNotFound)
 * and its share of the requests answered 500, as the specification requires: the Envoy route names a cluster the
 * configuration does not define, with {@code cluster_not_found_response_code: INTERNAL_SERVER_ERROR}.
 */
public final class GatewayRoutes {
    public static final String GROUP = "gateway.networking.k8s.io";
    private static final Set<String> KINDS = Set.of("HTTPRoute", "GRPCRoute");
    /** HTTPRoute is also served as v1beta1 (the same schema); GRPCRoute became v1 with Gateway API 1.1. */
    private static final Map<String, Set<String>> VERSIONS = Map.of(
            "HTTPRoute", Set.of(GROUP + "/v1", GROUP + "/v1beta1"),
            "GRPCRoute", Set.of(GROUP + "/v1"));
    /** Gateway API's Duration: up to four {@code <number><unit>} parts, e.g. 1h30m, 500ms, 0s. */
    private static final Pattern DURATION = Pattern.compile("^([0-9]{1,5}(h|m|s|ms)){1,4}$");
    private static final Pattern DURATION_PART = Pattern.compile("([0-9]{1,5})(ms|h|m|s)");
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** The cluster a rule with no usable backendRef routes to: never defined, so every request gets 500. */
    static final String NO_BACKEND = "gateway-api/no-backend";

    /** The Envoy configurations of the routes, and each route's status per parent. */
    public record Translation(List<EnvoyConfig> configs, List<RouteStatus> statuses, List<String> problems) {
        public Translation {
            configs = List.copyOf(configs);
            statuses = List.copyOf(statuses);
            problems = List.copyOf(problems);
        }
    }

    private GatewayRoutes() {
    }

    /** Whether {@code object} is an HTTPRoute or GRPCRoute (any version: a wrong one is refused with its status). */
    public static boolean isRoute(OtherObject object) {
        return object.group().equals(GROUP) && KINDS.contains(object.kind());
    }

    /**
     * Checks every HTTPRoute and GRPCRoute among {@code objects} as the agent will read them, so that a route Sluice
     * would refuse is refused before it is stored (as an API server validates a resource).
     *
     * @throws ManifestException naming file, document, route and field of each refused route
     */
    public static void check(Collection<OtherObject> objects, Consumer<String> warnings) {
        List<ManifestException> problems = new ArrayList<>();
        for (OtherObject object : objects) {
            if (isRoute(object)) {
                try {
                    RouteParser.parse(object, warnings);
                } catch (ManifestException e) {
                    problems.add(e);
                }
            }
        }
        if (!problems.isEmpty()) {
            ManifestException first = problems.getFirst();
            problems.subList(1, problems.size()).forEach(first::addSuppressed);
            throw first;
        }
    }

    /**
     * Translates every HTTPRoute and GRPCRoute among the view's objects.
     *
     * @param warnings what is accepted but ignored (hostnames, parents that are not Services), naming file and field
     */
    public static Translation translate(ClusterView view, Consumer<String> warnings) {
        List<ParsedRoute> routes = new ArrayList<>();
        List<RouteStatus> statuses = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (OtherObject object : view.objects()) {
            if (!isRoute(object)) {
                continue;
            }
            try {
                routes.add(RouteParser.parse(object, warnings));
            } catch (ManifestException e) {
                problems.add(e.getMessage());
                // A refused route is not applied to any parent; every parent it names says why.
                for (JsonNode parent : object.body().path("spec").path("parentRefs")) {
                    statuses.add(new RouteStatus(object.kind(), object.ref().namespace(), object.ref().name(),
                            parentName(parent, object.ref().namespace()),
                            List.of(new RouteStatus.Condition("Accepted", false, "UnsupportedValue", e.getMessage()))));
                }
            }
        }
        // Each Service port with its routes (rules of every route whose parentRef takes that port).
        Map<String, PortRoutes> ports = new TreeMap<>();
        for (ParsedRoute route : routes) {
            for (ParsedRoute.Parent parent : route.parents()) {
                List<RouteStatus.Condition> conditions = new ArrayList<>();
                Optional<ServiceSpec> service = service(view, parent.namespace(), parent.name());
                String refusal = null;
                if (!parent.isService()) {
                    refusal = "Sluice implements Gateway API for the mesh (GAMMA): only a Service parentRef (group \"\", kind Service) is supported, got "
                            + parent.kind() + (parent.group().isEmpty() ? "" : " of group " + parent.group());
                    warnings.accept(route.source() + " (" + route.kindAndName() + "): " + refusal);
                } else if (!parent.namespace().equals(route.namespace())) {
                    refusal = "a parent Service in another namespace (a consumer route) is not supported";
                } else if (service.isEmpty()) {
                    refusal = "Service " + parent.namespace() + "/" + parent.name() + " does not exist";
                } else if (parent.port() != null && service.get().ports().stream().noneMatch(p -> p.port() == parent.port())) {
                    refusal = "Service " + parent.namespace() + "/" + parent.name() + " has no port " + parent.port();
                }
                if (refusal != null) {
                    conditions.add(new RouteStatus.Condition("Accepted", false, "NoMatchingParent", refusal));
                } else {
                    conditions.add(new RouteStatus.Condition("Accepted", true, "Accepted", ""));
                    for (ServicePort port : service.get().ports()) {
                        if (parent.port() == null || parent.port() == port.port()) {
                            String key = parent.namespace() + "/" + parent.name() + ":" + port.port();
                            ports.computeIfAbsent(key, k -> new PortRoutes(parent.namespace(), parent.name(), port.port(),
                                    view.clusterIps().getOrDefault(parent.namespace() + "/" + parent.name(), "")))
                                    .routes.add(route);
                        }
                    }
                }
                conditions.add(resolvedRefs(view, route));
                statuses.add(new RouteStatus(route.kind(), route.namespace(), route.name(), parent.toString(), conditions));
            }
        }
        List<EnvoyConfig> configs = new ArrayList<>();
        for (PortRoutes p : ports.values()) {
            configs.add(envoyConfig(view, p));
        }
        return new Translation(configs, statuses, problems);
    }

    private static String parentName(JsonNode parent, String routeNamespace) {
        String kind = parent.path("kind").asText("Gateway");
        String ns = parent.path("namespace").asText(routeNamespace);
        return kind + " " + ns + "/" + parent.path("name").asText("") + (parent.has("port") ? ":" + parent.path("port").asText() : "");
    }

    /** ResolvedRefs over every backendRef of the route's rules. */
    private static RouteStatus.Condition resolvedRefs(ClusterView view, ParsedRoute route) {
        List<String> notFound = new ArrayList<>();
        for (ParsedRoute.Rule rule : route.rules()) {
            for (ParsedRoute.Backend b : rule.backends()) {
                if (!backendExists(view, b)) {
                    notFound.add(b.namespace() + "/" + b.name() + ":" + b.port());
                }
            }
        }
        if (notFound.isEmpty()) {
            return new RouteStatus.Condition("ResolvedRefs", true, "ResolvedRefs", "");
        }
        return new RouteStatus.Condition("ResolvedRefs", false, "BackendNotFound",
                "no Service (with that port) for backendRef(s) " + String.join(", ", new LinkedHashSet<>(notFound))
                        + "; their share of requests is answered 500");
    }

    private static boolean backendExists(ClusterView view, ParsedRoute.Backend b) {
        return service(view, b.namespace(), b.name()).map(s -> s.ports().stream().anyMatch(p -> p.port() == b.port())).orElse(false);
    }

    private static Optional<ServiceSpec> service(ClusterView view, String namespace, String name) {
        return view.services().stream().filter(s -> s.ref().name().equals(name) && namespace.equals(s.ref().namespace())).findFirst();
    }

    /** The routes on one Service port. */
    private static final class PortRoutes {
        final String namespace;
        final String service;
        final int port;
        final String clusterIp;
        final List<ParsedRoute> routes = new ArrayList<>();

        PortRoutes(String namespace, String service, int port, String clusterIp) {
            this.namespace = namespace;
            this.service = service;
            this.port = port;
            this.clusterIp = clusterIp;
        }
    }

    /** One match of one rule of one route, with what orders it among the others on its Service port. */
    private record Entry(ParsedRoute route, int ruleIndex, ParsedRoute.Rule rule, int matchIndex, ParsedRoute.Match match) {
    }

    /**
     * Gateway API's precedence among the matches of every route on a parent: an Exact path, then a
     * RegularExpression (the longest first; where regexes go is left to implementations), then the longest
     * PathPrefix; then a method match; then more header matches; then more query matches; then the oldest route,
     * then by {@code namespace/name}; then the rules and matches in their order.
     */
    private static final Comparator<Entry> PRECEDENCE = Comparator
            .comparingInt((Entry e) -> e.match().pathKind().ordinal())
            .thenComparing(Comparator.comparingInt((Entry e) -> e.match().pathLength()).reversed())
            .thenComparingInt(e -> e.match().method() != null ? 0 : 1)
            .thenComparing(Comparator.comparingInt((Entry e) -> e.match().headers().size()).reversed())
            .thenComparing(Comparator.comparingInt((Entry e) -> e.match().queryParams().size()).reversed())
            .thenComparing(e -> e.route().creationTimestamp())
            .thenComparing(e -> e.route().namespace() + "/" + e.route().name())
            .thenComparing(e -> e.route().kind())
            .thenComparingInt(Entry::ruleIndex)
            .thenComparingInt(Entry::matchIndex);

    private static EnvoyConfig envoyConfig(ClusterView view, PortRoutes p) {
        List<Entry> entries = new ArrayList<>();
        for (ParsedRoute route : p.routes) {
            for (int r = 0; r < route.rules().size(); r++) {
                ParsedRoute.Rule rule = route.rules().get(r);
                for (int m = 0; m < rule.matches().size(); m++) {
                    entries.add(new Entry(route, r, rule, m, rule.matches().get(m)));
                }
            }
        }
        entries.sort(PRECEDENCE);
        String key = p.namespace + "/" + p.service + ":" + p.port;
        Map<String, Cluster> clusters = new LinkedHashMap<>();
        VirtualHost.Builder vh = VirtualHost.newBuilder().setName(key).addAllDomains(domains(p));
        for (Entry e : entries) {
            vh.addRoutes(route(view, e, clusters));
        }
        RouteConfiguration rc = RouteConfiguration.newBuilder().setName("gateway-api/" + key).addVirtualHosts(vh).build();
        String origins = p.routes.stream().map(ParsedRoute::kindAndName).distinct().reduce((a, b) -> a + ", " + b).orElse("");
        Source source = p.routes.stream().map(ParsedRoute::source).filter(s -> s != null).findFirst()
                .orElse(new Source(Path.of("cluster"), 0));
        return new EnvoyConfig(origins, p.namespace, "gateway-api-" + p.service + "-" + p.port, source,
                List.of(new EnvoyConfig.ServiceRef(p.namespace, p.service, List.of(p.port))), List.of(), List.of(rc),
                List.copyOf(clusters.values()), List.of());
    }

    /** The names a client reaches the Service by, with and without the port, and its ClusterIP. */
    private static List<String> domains(PortRoutes p) {
        List<String> names = new ArrayList<>(List.of(p.service, p.service + "." + p.namespace, p.service + "." + p.namespace + ".svc",
                p.service + "." + p.namespace + ".svc.cluster.local"));
        if (!p.clusterIp.isEmpty()) {
            names.add(p.clusterIp);
        }
        List<String> domains = new ArrayList<>();
        for (String n : names) {
            domains.add(n);
            domains.add(n + ":" + p.port);
        }
        return domains;
    }

    private static Route route(ClusterView view, Entry e, Map<String, Cluster> clusters) {
        ParsedRoute.Match m = e.match();
        RouteMatch.Builder match = RouteMatch.newBuilder();
        switch (m.pathKind()) {
            case EXACT -> match.setPath(m.path());
            case REGEX -> match.setSafeRegex(RegexMatcher.newBuilder().setRegex(m.path()));
            case PREFIX -> {
                // Gateway API's PathPrefix matches whole segments: Envoy's path_separated_prefix ("/" is any path).
                String prefix = m.path().length() > 1 && m.path().endsWith("/") ? m.path().substring(0, m.path().length() - 1) : m.path();
                if (prefix.equals("/")) {
                    match.setPrefix("/");
                } else {
                    match.setPathSeparatedPrefix(prefix);
                }
            }
        }
        if (m.method() != null) {
            match.addHeaders(HeaderMatcher.newBuilder().setName(":method")
                    .setStringMatch(StringMatcher.newBuilder().setExact(m.method())));
        }
        for (ParsedRoute.ValueMatch h : m.headers()) {
            match.addHeaders(HeaderMatcher.newBuilder().setName(h.name()).setStringMatch(string(h)));
        }
        for (ParsedRoute.ValueMatch q : m.queryParams()) {
            match.addQueryParameters(QueryParameterMatcher.newBuilder().setName(q.name()).setStringMatch(string(q)));
        }
        ParsedRoute.Rule rule = e.rule();
        RouteAction.Builder action = RouteAction.newBuilder()
                .setClusterNotFoundResponseCode(RouteAction.ClusterNotFoundResponseCode.INTERNAL_SERVER_ERROR);
        List<ParsedRoute.Backend> chosen = rule.backends().stream().filter(b -> b.weight() > 0).toList();
        if (chosen.isEmpty()) {
            // No backendRef, or all weighted 0: the specification answers 500.
            action.setCluster(NO_BACKEND);
        } else {
            WeightedCluster.Builder weighted = WeightedCluster.newBuilder();
            for (ParsedRoute.Backend b : chosen) {
                String name = b.namespace() + "/" + b.name() + ":" + b.port();
                if (backendExists(view, b)) {
                    clusters.computeIfAbsent(name, n -> Cluster.newBuilder().setName(n).setType(Cluster.DiscoveryType.EDS)
                            .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setServiceName(n))
                            .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(CONNECT_TIMEOUT.toSeconds()))
                            .setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN)
                            .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance())
                            .build());
                }
                weighted.addClusters(WeightedCluster.ClusterWeight.newBuilder().setName(name).setWeight(UInt32Value.of(b.weight())));
            }
            action.setWeightedClusters(weighted);
        }
        // Gateway API leaves requests without a timeout unless the route sets one (Envoy's 15 s default would cut
        // long gRPC streams): 0 disables Envoy's.
        Duration timeout = rule.timeout() == null ? Duration.ZERO : rule.timeout();
        action.setTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(timeout.getSeconds()).setNanos(timeout.getNano()));
        Route.Builder route = Route.newBuilder()
                .setName(e.route().kindAndName() + " rule " + e.ruleIndex() + " match " + e.matchIndex())
                .setMatch(match).setRoute(action);
        for (var h : rule.headerModifier().set()) {
            route.addRequestHeadersToAdd(HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey(h.getKey()).setValue(h.getValue()))
                    .setAppendAction(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD));
        }
        for (var h : rule.headerModifier().add()) {
            route.addRequestHeadersToAdd(HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey(h.getKey()).setValue(h.getValue()))
                    .setAppendAction(HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD));
        }
        route.addAllRequestHeadersToRemove(rule.headerModifier().remove());
        return route.build();
    }

    private static StringMatcher string(ParsedRoute.ValueMatch v) {
        return v.regex() ? StringMatcher.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex(v.value())).build()
                : StringMatcher.newBuilder().setExact(v.value()).build();
    }

    /** Gateway API's Duration ({@code 1h30m}, {@code 500ms}, {@code 0s}), or empty when it is not one. */
    static Optional<Duration> duration(String text) {
        if (!DURATION.matcher(text).matches()) {
            return Optional.empty();
        }
        Duration d = Duration.ZERO;
        Matcher part = DURATION_PART.matcher(text);
        while (part.find()) {
            long n = Long.parseLong(part.group(1));
            d = d.plus(switch (part.group(2)) {
                case "h" -> Duration.ofHours(n);
                case "m" -> Duration.ofMinutes(n);
                case "s" -> Duration.ofSeconds(n);
                default -> Duration.ofMillis(n);
            });
        }
        return Optional.of(d);
    }

    static void checkRegex(String regex, RouteParser.Problems problems, String field) {
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw problems.error(field, "not a valid regular expression: " + e.getDescription());
        }
    }

    static String versions(String kind) {
        return String.join(" or ", VERSIONS.get(kind).stream().sorted().toList());
    }

    static boolean versionOk(OtherObject o) {
        return VERSIONS.getOrDefault(o.kind(), Set.of()).contains(o.apiVersion());
    }
}
