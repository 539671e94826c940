package dev.sluice.l7.xds;

import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.Struct;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.Value;
import dev.sluice.l7.envoy.EnvoyConfig;
import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.envoy.RouteProtos;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMatch;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.l7.route.QueryMatch;
import dev.sluice.l7.route.RetryPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.StringMatch;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.model.cluster.ClusterView;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster.ClusterWeight;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The first half of compilation: envoy configurations and the cluster view to the xDS resources a node's proxy is
 * served. The resolution rules (which Service ports, which endpoints) are {@link L7Compiler}'s; this class writes
 * its result as Envoy v3 protos, one Listener per redirected Service port, so that a stock Envoy could run them.
 * {@link XdsRouteTable} is the second half (resources to the proxy's {@link RouteTable}).
 */
public final class XdsResources {
    /** The filter metadata namespace of a Listener: which Service port it stands for, and where it came from. */
    public static final String METADATA = "sluice.io/service";
    static final String HCM = "envoy.filters.network.http_connection_manager";
    static final String ROUTER = "envoy.filters.http.router";
    static final String HTTP_PROTOCOL_OPTIONS = RouteProtos.HTTP_PROTOCOL_OPTIONS;

    private XdsResources() {
    }

    /**
     * @param node the node whose proxy is served (its pods' gateway address is the listeners' address)
     * @param proxyPorts each redirected Service port ({@code ns/name:port}) to its proxy port; a Service port without
     *                   one gets no Listener
     */
    public static XdsSnapshot compile(List<EnvoyConfig> configs, ClusterView view, String node, Map<String, Integer> proxyPorts,
                                      Consumer<String> warnings) {
        String gateway = view.node(node).map(ClusterView.Node::podGateway).orElseThrow(
                () -> new IllegalArgumentException("node " + node + " is not in the cluster view"));
        return of(L7Compiler.compile(configs, view, warnings), gateway, proxyPorts);
    }

    /** The resources of a compiled table, listeners on {@code gateway}. */
    public static XdsSnapshot of(RouteTable table, String gateway, Map<String, Integer> proxyPorts) {
        List<Listener> listeners = new ArrayList<>();
        List<RouteConfiguration> routes = new ArrayList<>();
        for (ServiceRoutes s : table.services()) {
            Integer port = proxyPorts.get(s.key());
            if (port == null) {
                continue;
            }
            listeners.add(listener(s, gateway, port));
            routes.add(routeConfiguration(s));
        }
        List<Cluster> clusters = new ArrayList<>();
        List<ClusterLoadAssignment> endpoints = new ArrayList<>();
        for (var c : table.clusters().values().stream().sorted(java.util.Comparator.comparing(dev.sluice.l7.route.Cluster::name)).toList()) {
            clusters.add(cluster(c));
            endpoints.add(loadAssignment(c));
        }
        return new XdsSnapshot(listeners, routes, clusters, endpoints);
    }

    static ConfigSource ads() {
        return ConfigSource.newBuilder().setAds(AggregatedConfigSource.getDefaultInstance())
                .setResourceApiVersion(ApiVersion.V3).build();
    }

    private static Listener listener(ServiceRoutes s, String gateway, int port) {
        HttpConnectionManager hcm = HttpConnectionManager.newBuilder()
                .setStatPrefix(s.key())
                .setCodecType(HttpConnectionManager.CodecType.AUTO)
                .setRds(Rds.newBuilder().setConfigSource(ads()).setRouteConfigName(s.key()))
                .addHttpFilters(HttpFilter.newBuilder().setName(ROUTER).setTypedConfig(Any.pack(Router.getDefaultInstance())))
                .build();
        Struct service = Struct.newBuilder()
                .putFields("namespace", string(s.namespace()))
                .putFields("service", string(s.service()))
                .putFields("port", Value.newBuilder().setNumberValue(s.port()).build())
                .putFields("clusterIp", string(s.clusterIp()))
                .putFields("origin", string(s.origin()))
                .build();
        return Listener.newBuilder()
                .setName(s.key())
                .setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder()
                        .setAddress(gateway).setPortValue(port)))
                // The gateway address lives on the pods' veths; the proxy may start before the first pod.
                .setFreebind(BoolValue.of(true))
                .setMetadata(Metadata.newBuilder().putFilterMetadata(METADATA, service))
                .addFilterChains(FilterChain.newBuilder().addFilters(Filter.newBuilder().setName(HCM).setTypedConfig(Any.pack(hcm))))
                .build();
    }

    private static Value string(String s) {
        return Value.newBuilder().setStringValue(s).build();
    }

    private static RouteConfiguration routeConfiguration(ServiceRoutes s) {
        RouteConfiguration.Builder rc = RouteConfiguration.newBuilder().setName(s.key());
        Set<String> names = new HashSet<>();
        for (VirtualHost vh : s.virtualHosts()) {
            // Envoy refuses two virtual hosts of one name in a route configuration.
            String name = vh.name().isEmpty() ? "default" : vh.name();
            String base = name;
            for (int i = 2; !names.add(name); i++) {
                name = base + "-" + i;
            }
            var b = io.envoyproxy.envoy.config.route.v3.VirtualHost.newBuilder().setName(name).addAllDomains(vh.domains());
            if (!name.equals(vh.name())) {
                // Renamed for Envoy: the model's name (flows and status show it) is kept in the metadata.
                b.setMetadata(Metadata.newBuilder().putFilterMetadata(METADATA,
                        Struct.newBuilder().putFields("name", string(vh.name())).build()));
            }
            vh.routes().forEach(r -> b.addRoutes(route(r)));
            rc.addVirtualHosts(b);
        }
        return rc.build();
    }

    /**
     * A route as Envoy writes it, every field of the model included, so that {@link XdsRouteTable} reads back the
     * same route: a field left out would make a route broader (a query match) or lose what it does (a timeout,
     * retries, header changes).
     */
    static io.envoyproxy.envoy.config.route.v3.Route route(Route r) {
        RouteMatch.Builder m = RouteMatch.newBuilder();
        switch (r.pathKind()) {
            case PREFIX -> m.setPrefix(r.path());
            case SEPARATED_PREFIX -> m.setPathSeparatedPrefix(r.path());
            case PATH -> m.setPath(r.path());
            case REGEX -> m.setSafeRegex(RegexMatcher.newBuilder().setRegex(r.path()));
        }
        if (!r.caseSensitive()) {
            m.setCaseSensitive(BoolValue.of(false));
        }
        r.headers().forEach(h -> m.addHeaders(header(h)));
        for (QueryMatch q : r.queryParams()) {
            QueryParameterMatcher.Builder qm = QueryParameterMatcher.newBuilder().setName(q.name());
            if (q.value() == null) {
                qm.setPresentMatch(true);
            } else {
                qm.setStringMatch(stringMatcher(q.value()));
            }
            m.addQueryParameters(qm);
        }
        RouteAction.Builder action = RouteAction.newBuilder();
        // One cluster is written as Envoy's plain `cluster` only when its weight is the 1 the reader gives it back.
        if (r.clusters().size() == 1 && r.clusters().getFirst().weight() == 1) {
            action.setCluster(r.clusters().getFirst().cluster());
        } else {
            var weighted = io.envoyproxy.envoy.config.route.v3.WeightedCluster.newBuilder();
            for (WeightedCluster wc : r.clusters()) {
                weighted.addClusters(ClusterWeight.newBuilder().setName(wc.cluster()).setWeight(UInt32Value.of(wc.weight())));
            }
            action.setWeightedClusters(weighted);
        }
        // Always written: unset would be Envoy's 15 s default, and the model's ZERO means no timeout (Envoy's 0).
        action.setTimeout(RouteProtos.duration(r.timeout()));
        action.setClusterNotFoundResponseCode(switch (r.clusterNotFoundStatus()) {
            case 503 -> RouteAction.ClusterNotFoundResponseCode.SERVICE_UNAVAILABLE;
            case 404 -> RouteAction.ClusterNotFoundResponseCode.NOT_FOUND;
            case 500 -> RouteAction.ClusterNotFoundResponseCode.INTERNAL_SERVER_ERROR;
            default -> throw new IllegalArgumentException("route " + r.name() + ": cluster not found status "
                    + r.clusterNotFoundStatus() + " has no Envoy cluster_not_found_response_code (503, 404 or 500)");
        });
        if (r.retry() != null) {
            RetryPolicy p = r.retry();
            var retry = io.envoyproxy.envoy.config.route.v3.RetryPolicy.newBuilder()
                    .setRetryOn(String.join(",", p.retryOn().stream().sorted().toList()))
                    .setNumRetries(UInt32Value.of(p.numRetries()))
                    .addAllRetriableStatusCodes(p.retriableStatusCodes().stream().sorted().toList());
            if (!p.perTryTimeout().isZero()) {
                retry.setPerTryTimeout(RouteProtos.duration(p.perTryTimeout()));
            }
            if (!p.backOff().equals(RetryPolicy.BackOff.ENVOY_DEFAULT)) {
                // Unset is Envoy's default (25 ms, max 250 ms), which the model holds as such.
                retry.setRetryBackOff(io.envoyproxy.envoy.config.route.v3.RetryPolicy.RetryBackOff.newBuilder()
                        .setBaseInterval(RouteProtos.duration(p.backOff().base()))
                        .setMaxInterval(RouteProtos.duration(p.backOff().max())));
            }
            action.setRetryPolicy(retry);
        }
        var route = io.envoyproxy.envoy.config.route.v3.Route.newBuilder().setName(r.name()).setMatch(m).setRoute(action);
        HeaderMutation mutation = r.requestHeaders();
        mutation.set().forEach(e -> route.addRequestHeadersToAdd(headerValue(e, HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD)));
        mutation.add().forEach(e -> route.addRequestHeadersToAdd(headerValue(e, HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD)));
        route.addAllRequestHeadersToRemove(mutation.remove());
        return route.build();
    }

    private static HeaderValueOption headerValue(Map.Entry<String, String> e, HeaderValueOption.HeaderAppendAction action) {
        return HeaderValueOption.newBuilder().setHeader(HeaderValue.newBuilder().setKey(e.getKey()).setValue(e.getValue()))
                .setAppendAction(action).build();
    }

    private static HeaderMatcher header(HeaderMatch h) {
        HeaderMatcher.Builder b = HeaderMatcher.newBuilder().setName(h.name()).setInvertMatch(h.invert());
        if (h.value() == null) {
            b.setPresentMatch(h.present());
        } else {
            b.setStringMatch(stringMatcher(h.value()));
        }
        return b.build();
    }

    private static StringMatcher stringMatcher(StringMatch s) {
        StringMatcher.Builder sm = StringMatcher.newBuilder();
        switch (s.kind()) {
            case EXACT -> sm.setExact(s.value());
            case PREFIX -> sm.setPrefix(s.value());
            case SUFFIX -> sm.setSuffix(s.value());
            case CONTAINS -> sm.setContains(s.value());
            // Envoy ignores ignore_case for safe_regex: a case-insensitive expression says so itself.
            case REGEX -> sm.setSafeRegex(RegexMatcher.newBuilder().setRegex(
                    s.ignoreCase() ? RouteProtos.INSENSITIVE + s.value() : s.value()));
        }
        if (s.ignoreCase() && s.kind() != StringMatch.Kind.REGEX) {
            sm.setIgnoreCase(true);
        }
        return sm.build();
    }

    private static Cluster cluster(dev.sluice.l7.route.Cluster c) {
        Cluster.Builder b = Cluster.newBuilder()
                .setName(c.name())
                .setType(Cluster.DiscoveryType.EDS)
                .setEdsClusterConfig(Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ads()))
                .setConnectTimeout(RouteProtos.duration(c.connectTimeout()))
                .setLbPolicy(switch (c.lbPolicy()) {
                    case ROUND_ROBIN -> Cluster.LbPolicy.ROUND_ROBIN;
                    case LEAST_REQUEST -> Cluster.LbPolicy.LEAST_REQUEST;
                    case RANDOM -> Cluster.LbPolicy.RANDOM;
                });
        if (c.outlierDetection() != null) {
            var o = c.outlierDetection();
            b.setOutlierDetection(io.envoyproxy.envoy.config.cluster.v3.OutlierDetection.newBuilder()
                    .setConsecutive5Xx(UInt32Value.of(o.consecutive5xx()))
                    .setBaseEjectionTime(RouteProtos.duration(o.baseEjectionTime()))
                    .setMaxEjectionPercent(UInt32Value.of(o.maxEjectionPercent())));
        }
        if (c.http2()) {
            b.putTypedExtensionProtocolOptions(HTTP_PROTOCOL_OPTIONS, Any.pack(HttpProtocolOptions.newBuilder()
                    .setExplicitHttpConfig(HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                            .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance())).build()));
        }
        return b.build();
    }

    private static ClusterLoadAssignment loadAssignment(dev.sluice.l7.route.Cluster c) {
        LocalityLbEndpoints.Builder locality = LocalityLbEndpoints.newBuilder();
        for (Endpoint e : c.endpoints()) {
            locality.addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(io.envoyproxy.envoy.config.endpoint.v3.Endpoint.newBuilder()
                    .setAddress(Address.newBuilder().setSocketAddress(SocketAddress.newBuilder()
                            .setAddress(e.address()).setPortValue(e.port())))
                    // Envoy's hostname of an endpoint: the pod, for messages and flows.
                    .setHostname(e.pod())));
        }
        ClusterLoadAssignment.Builder b = ClusterLoadAssignment.newBuilder().setClusterName(c.name());
        if (!c.endpoints().isEmpty()) {
            b.addEndpoints(locality);
        }
        return b.build();
    }
}
