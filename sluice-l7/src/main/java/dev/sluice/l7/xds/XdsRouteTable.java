package dev.sluice.l7.xds;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMatch;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.StringMatch;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.PatternSyntaxException;

/**
 * The second half of compilation: the xDS resources a proxy holds to its {@link ProxyConfig} (listeners and the
 * {@link RouteTable} it routes by; no protobuf on the request path). Anything it cannot run is an
 * {@link XdsException} naming the resource, which the proxy's xDS client NACKs, keeping what it ran before.
 *
 * <p>{@link #isComplete} says whether every name the resources refer to (RDS route configurations, clusters, their
 * load assignments) is held; as Envoy warms a listener or cluster, the proxy applies a set only once it is.
 */
public final class XdsRouteTable {
    private XdsRouteTable() {
    }

    /** The names the resources refer to that the set does not hold (empty: the set can be applied). */
    public static List<String> missing(XdsSnapshot s) {
        List<String> missing = new ArrayList<>();
        Map<String, RouteConfiguration> routes = byName(s.routes(), RouteConfiguration::getName);
        Map<String, Cluster> clusters = byName(s.clusters(), Cluster::getName);
        Map<String, ClusterLoadAssignment> cla = byName(s.endpoints(), ClusterLoadAssignment::getClusterName);
        for (Listener l : s.listeners()) {
            for (HttpConnectionManager hcm : managers(l)) {
                if (hcm.hasRds() && !routes.containsKey(hcm.getRds().getRouteConfigName())) {
                    missing.add("RouteConfiguration " + hcm.getRds().getRouteConfigName());
                }
                List<RouteConfiguration> rcs = hcm.hasRouteConfig() ? List.of(hcm.getRouteConfig())
                        : Optional.ofNullable(routes.get(hcm.getRds().getRouteConfigName())).map(List::of).orElse(List.of());
                for (RouteConfiguration rc : rcs) {
                    for (var vh : rc.getVirtualHostsList()) {
                        for (var r : vh.getRoutesList()) {
                            for (String c : clusterNames(r)) {
                                if (!clusters.containsKey(c)) {
                                    missing.add("Cluster " + c);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (Cluster c : s.clusters()) {
            if (c.getType() == Cluster.DiscoveryType.EDS && !cla.containsKey(edsName(c))) {
                missing.add("ClusterLoadAssignment " + edsName(c));
            }
        }
        return missing.stream().distinct().toList();
    }

    public static boolean isComplete(XdsSnapshot s) {
        return missing(s).isEmpty();
    }

    /** The EDS name of a cluster: its {@code eds_cluster_config.service_name}, else its name. */
    public static String edsName(Cluster c) {
        String n = c.getEdsClusterConfig().getServiceName();
        return n.isEmpty() ? c.getName() : n;
    }

    public static ProxyConfig toProxyConfig(XdsSnapshot s) throws XdsException {
        Map<String, RouteConfiguration> routes = byName(s.routes(), RouteConfiguration::getName);
        List<ListenerBinding> bindings = new ArrayList<>();
        List<ServiceRoutes> services = new ArrayList<>();
        for (Listener l : s.listeners()) {
            String where = "Listener " + l.getName();
            if (!l.getAddress().hasSocketAddress() || l.getAddress().getSocketAddress().getPortValue() == 0) {
                throw new XdsException(where + ": address.socket_address with a port_value is required");
            }
            Struct meta = l.getMetadata().getFilterMetadataOrDefault(XdsResources.METADATA, Struct.getDefaultInstance());
            String[] key = serviceKey(l.getName(), meta, where);
            List<HttpConnectionManager> hcms = managers(l);
            if (hcms.isEmpty()) {
                throw new XdsException(where + ": filter_chains hold no " + XdsResources.HCM + " (Sluice proxies HTTP only)");
            }
            List<VirtualHost> hosts = new ArrayList<>();
            for (HttpConnectionManager hcm : hcms) {
                RouteConfiguration rc = switch (hcm.getRouteSpecifierCase()) {
                    case ROUTE_CONFIG -> hcm.getRouteConfig();
                    case RDS -> Optional.ofNullable(routes.get(hcm.getRds().getRouteConfigName())).orElseThrow(() ->
                            new XdsException(where + ": rds.route_config_name " + hcm.getRds().getRouteConfigName() + " is not held"));
                    default -> throw new XdsException(where + ": route_specifier " + hcm.getRouteSpecifierCase() + " is not supported");
                };
                for (var vh : rc.getVirtualHostsList()) {
                    List<Route> rs = new ArrayList<>();
                    for (var r : vh.getRoutesList()) {
                        rs.add(route("RouteConfiguration " + rc.getName() + " virtual_host " + vh.getName(), r));
                    }
                    hosts.add(new VirtualHost(vh.getName(), vh.getDomainsList(), rs));
                }
            }
            var socket = l.getAddress().getSocketAddress();
            String serviceKey = key[0] + "/" + key[1] + ":" + key[2];
            bindings.add(new ListenerBinding(l.getName(), serviceKey, socket.getAddress(), socket.getPortValue(),
                    l.hasFreebind() && l.getFreebind().getValue()));
            services.add(new ServiceRoutes(key[0], key[1], Integer.parseInt(key[2]), text(meta, "clusterIp"),
                    text(meta, "origin"), hosts));
        }
        Map<String, ClusterLoadAssignment> cla = byName(s.endpoints(), ClusterLoadAssignment::getClusterName);
        Map<String, dev.sluice.l7.route.Cluster> clusters = new LinkedHashMap<>();
        for (Cluster c : s.clusters()) {
            clusters.put(c.getName(), cluster(c, cla));
        }
        return new ProxyConfig(bindings, new RouteTable(services, clusters));
    }

    private static String text(Struct meta, String field) {
        Value v = meta.getFieldsOrDefault(field, null);
        return v == null ? "" : v.getStringValue();
    }

    /** {namespace, service, port} from the Listener's metadata, else from its name {@code ns/name:port}. */
    private static String[] serviceKey(String name, Struct meta, String where) throws XdsException {
        if (meta.containsFields("service")) {
            return new String[] {text(meta, "namespace"), text(meta, "service"),
                    String.valueOf((int) meta.getFieldsOrThrow("port").getNumberValue())};
        }
        int slash = name.indexOf('/');
        int colon = name.lastIndexOf(':');
        if (slash > 0 && colon > slash && name.substring(colon + 1).matches("[0-9]{1,5}")) {
            return new String[] {name.substring(0, slash), name.substring(slash + 1, colon), name.substring(colon + 1)};
        }
        throw new XdsException(where + ": the name does not say which Service port it takes (namespace/name:port), "
                + "and it has no " + XdsResources.METADATA + " metadata");
    }

    static List<HttpConnectionManager> managers(Listener l) {
        List<HttpConnectionManager> out = new ArrayList<>();
        for (var chain : l.getFilterChainsList()) {
            for (Filter f : chain.getFiltersList()) {
                Any typed = f.getTypedConfig();
                if (typed.is(HttpConnectionManager.class)) {
                    try {
                        out.add(typed.unpack(HttpConnectionManager.class));
                    } catch (InvalidProtocolBufferException e) {
                        // Not a valid HCM: left out, and the listener without one is refused by toProxyConfig.
                    }
                }
            }
        }
        return out;
    }

    private static List<String> clusterNames(io.envoyproxy.envoy.config.route.v3.Route r) {
        if (!r.hasRoute()) {
            return List.of();
        }
        var a = r.getRoute();
        return switch (a.getClusterSpecifierCase()) {
            case CLUSTER -> List.of(a.getCluster());
            case WEIGHTED_CLUSTERS -> a.getWeightedClusters().getClustersList().stream().map(c -> c.getName()).toList();
            default -> List.of();
        };
    }

    private static Route route(String where, io.envoyproxy.envoy.config.route.v3.Route r) throws XdsException {
        String at = where + " route " + r.getName();
        RouteMatch m = r.getMatch();
        Route.PathKind kind;
        String path;
        switch (m.getPathSpecifierCase()) {
            case PREFIX -> { kind = Route.PathKind.PREFIX; path = m.getPrefix(); }
            case PATH -> { kind = Route.PathKind.PATH; path = m.getPath(); }
            case SAFE_REGEX -> { kind = Route.PathKind.REGEX; path = m.getSafeRegex().getRegex(); }
            case PATH_SEPARATED_PREFIX -> { kind = Route.PathKind.PREFIX; path = m.getPathSeparatedPrefix(); }
            default -> throw new XdsException(at + ": match " + m.getPathSpecifierCase() + " is not supported");
        }
        if (!m.getQueryParametersList().isEmpty() || m.hasGrpc() || m.hasRuntimeFraction()) {
            throw new XdsException(at + ": query, grpc and runtime_fraction matches are not supported");
        }
        List<HeaderMatch> headers = new ArrayList<>();
        for (HeaderMatcher h : m.getHeadersList()) {
            headers.add(header(at, h));
        }
        if (!r.hasRoute()) {
            throw new XdsException(at + ": action " + r.getActionCase() + " is not supported");
        }
        var a = r.getRoute();
        List<WeightedCluster> targets = new ArrayList<>();
        switch (a.getClusterSpecifierCase()) {
            case CLUSTER -> targets.add(new WeightedCluster(a.getCluster(), 1));
            case WEIGHTED_CLUSTERS -> {
                for (var c : a.getWeightedClusters().getClustersList()) {
                    targets.add(new WeightedCluster(c.getName(), c.hasWeight() ? c.getWeight().getValue() : 0));
                }
            }
            default -> throw new XdsException(at + ": cluster_specifier " + a.getClusterSpecifierCase() + " is not supported");
        }
        if (targets.stream().mapToInt(WeightedCluster::weight).sum() == 0) {
            throw new XdsException(at + ": the weights of weighted_clusters add up to 0");
        }
        boolean caseSensitive = !m.hasCaseSensitive() || m.getCaseSensitive().getValue();
        try {
            return new Route(r.getName(), kind, path, caseSensitive, headers, targets);
        } catch (PatternSyntaxException e) {
            throw new XdsException(at + ": safe_regex: " + e.getDescription());
        }
    }

    private static HeaderMatch header(String at, HeaderMatcher h) throws XdsException {
        boolean invert = h.getInvertMatch();
        try {
            return switch (h.getHeaderMatchSpecifierCase()) {
                case PRESENT_MATCH -> new HeaderMatch(h.getName(), null, h.getPresentMatch(), invert);
                case HEADERMATCHSPECIFIER_NOT_SET -> new HeaderMatch(h.getName(), null, true, invert);
                case EXACT_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.EXACT, h.getExactMatch(), false), true, invert);
                case PREFIX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.PREFIX, h.getPrefixMatch(), false), true, invert);
                case SUFFIX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.SUFFIX, h.getSuffixMatch(), false), true, invert);
                case CONTAINS_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.CONTAINS, h.getContainsMatch(), false), true, invert);
                case SAFE_REGEX_MATCH -> new HeaderMatch(h.getName(), new StringMatch(StringMatch.Kind.REGEX, h.getSafeRegexMatch().getRegex(), false), true, invert);
                case STRING_MATCH -> new HeaderMatch(h.getName(), stringMatch(at, h.getName(), h.getStringMatch()), true, invert);
                default -> throw new XdsException(at + ": header " + h.getName() + ": " + h.getHeaderMatchSpecifierCase() + " is not supported");
            };
        } catch (PatternSyntaxException e) {
            throw new XdsException(at + ": header " + h.getName() + ": regex: " + e.getDescription());
        }
    }

    private static StringMatch stringMatch(String at, String header, StringMatcher s) throws XdsException {
        boolean ic = s.getIgnoreCase();
        return switch (s.getMatchPatternCase()) {
            case EXACT -> new StringMatch(StringMatch.Kind.EXACT, s.getExact(), ic);
            case PREFIX -> new StringMatch(StringMatch.Kind.PREFIX, s.getPrefix(), ic);
            case SUFFIX -> new StringMatch(StringMatch.Kind.SUFFIX, s.getSuffix(), ic);
            case CONTAINS -> new StringMatch(StringMatch.Kind.CONTAINS, s.getContains(), ic);
            case SAFE_REGEX -> new StringMatch(StringMatch.Kind.REGEX, s.getSafeRegex().getRegex(), ic);
            default -> throw new XdsException(at + ": header " + header + ": string_match " + s.getMatchPatternCase() + " is not supported");
        };
    }

    private static dev.sluice.l7.route.Cluster cluster(Cluster c, Map<String, ClusterLoadAssignment> cla) throws XdsException {
        String at = "Cluster " + c.getName();
        LbPolicy lb = switch (c.getLbPolicy()) {
            case ROUND_ROBIN -> LbPolicy.ROUND_ROBIN;
            case LEAST_REQUEST -> LbPolicy.LEAST_REQUEST;
            case RANDOM -> LbPolicy.RANDOM;
            default -> throw new XdsException(at + ": lb_policy " + c.getLbPolicy() + " is not supported");
        };
        Duration timeout = c.hasConnectTimeout()
                ? Duration.ofSeconds(c.getConnectTimeout().getSeconds(), c.getConnectTimeout().getNanos())
                : Duration.ofSeconds(5);
        boolean http2 = c.hasHttp2ProtocolOptions() || c.containsTypedExtensionProtocolOptions(XdsResources.HTTP_PROTOCOL_OPTIONS);
        ClusterLoadAssignment assignment = switch (c.getType()) {
            case EDS -> cla.getOrDefault(edsName(c), ClusterLoadAssignment.getDefaultInstance());
            case STATIC -> c.getLoadAssignment();
            default -> throw new XdsException(at + ": type " + c.getType() + " is not supported (EDS and STATIC are)");
        };
        List<Endpoint> endpoints = new ArrayList<>();
        for (LocalityLbEndpoints locality : assignment.getEndpointsList()) {
            for (LbEndpoint e : locality.getLbEndpointsList()) {
                var socket = e.getEndpoint().getAddress().getSocketAddress();
                try {
                    endpoints.add(new Endpoint(socket.getAddress(), socket.getPortValue(), e.getEndpoint().getHostname()));
                } catch (IllegalArgumentException bad) {
                    throw new XdsException("ClusterLoadAssignment " + edsName(c) + ": endpoint " + socket.getAddress() + ": " + bad.getMessage());
                }
            }
        }
        return new dev.sluice.l7.route.Cluster(c.getName(), lb, timeout, endpoints, http2);
    }

    private static <T> Map<String, T> byName(List<T> items, java.util.function.Function<T, String> name) {
        Map<String, T> out = new LinkedHashMap<>();
        items.forEach(i -> out.put(name.apply(i), i));
        return out;
    }
}
