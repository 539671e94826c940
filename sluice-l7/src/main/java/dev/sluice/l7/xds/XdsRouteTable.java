package dev.sluice.l7.xds;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.sluice.l7.envoy.RouteProtos;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
                    // A name XdsResources changed for Envoy (empty, or taken) is read back from the metadata.
                    Struct vhMeta = vh.getMetadata().getFilterMetadataOrDefault(XdsResources.METADATA, Struct.getDefaultInstance());
                    String name = vhMeta.containsFields("name") ? text(vhMeta, "name") : vh.getName();
                    hosts.add(new VirtualHost(name, vh.getDomainsList(), rs));
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

    /**
     * The clusters a route waits for. A route that says what a missing cluster answers (404 or 500, Gateway API's
     * unresolved backendRefs) names clusters the agent does not serve on purpose: as Envoy with RDS, it is not
     * held back for them.
     */
    private static List<String> clusterNames(io.envoyproxy.envoy.config.route.v3.Route r) {
        if (!r.hasRoute() || r.getRoute().getClusterNotFoundResponseCode()
                != io.envoyproxy.envoy.config.route.v3.RouteAction.ClusterNotFoundResponseCode.SERVICE_UNAVAILABLE) {
            return List.of();
        }
        var a = r.getRoute();
        return switch (a.getClusterSpecifierCase()) {
            case CLUSTER -> List.of(a.getCluster());
            case WEIGHTED_CLUSTERS -> a.getWeightedClusters().getClustersList().stream().map(c -> c.getName()).toList();
            default -> List.of();
        };
    }

    /** The same conversion as the compiler's, but what the proxy cannot run exactly as written is refused. */
    private static Route route(String where, io.envoyproxy.envoy.config.route.v3.Route r) throws XdsException {
        try {
            return RouteProtos.route(r.getName(), r, RouteProtos.REFUSE);
        } catch (RouteProtos.Unsupported e) {
            throw new XdsException(where + " route " + r.getName() + ": " + e.getMessage());
        }
    }

    private static dev.sluice.l7.route.Cluster cluster(Cluster c, Map<String, ClusterLoadAssignment> cla) throws XdsException {
        String at = "Cluster " + c.getName();
        LbPolicy lb;
        try {
            lb = RouteProtos.lbPolicy(c);
        } catch (RouteProtos.Unsupported e) {
            throw new XdsException(at + ": " + e.getMessage());
        }
        Duration timeout = RouteProtos.connectTimeout(c);
        boolean http2 = RouteProtos.http2(c);
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
        dev.sluice.l7.route.OutlierDetection outliers;
        try {
            outliers = RouteProtos.outlierDetection(c);
        } catch (RouteProtos.Unsupported e) {
            throw new XdsException(at + ": " + e.getMessage());
        }
        return new dev.sluice.l7.route.Cluster(c.getName(), lb, timeout, endpoints, http2, outliers);
    }

    private static <T> Map<String, T> byName(List<T> items, java.util.function.Function<T, String> name) {
        Map<String, T> out = new LinkedHashMap<>();
        items.forEach(i -> out.put(name.apply(i), i));
        return out;
    }
}
