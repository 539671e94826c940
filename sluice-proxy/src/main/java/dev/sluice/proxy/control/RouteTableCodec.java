package dev.sluice.proxy.control;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMatch;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.StringMatch;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.proxy.control.v1.RouteTableUpdate;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The stand-in for xDS: sluice-l7's {@link RouteTable} to and from its message on the control channel, field by
 * field. Goes away when the proxy takes its table from its xDS client.
 */
public final class RouteTableCodec {
    private RouteTableCodec() {
    }

    public static RouteTableUpdate encode(long version, RouteTable table) {
        var b = RouteTableUpdate.newBuilder().setVersion(version);
        for (ServiceRoutes s : table.services()) {
            var sb = dev.sluice.proxy.control.v1.ServiceRoutes.newBuilder().setNamespace(s.namespace()).setService(s.service())
                    .setPort(s.port()).setClusterIp(s.clusterIp()).setOrigin(s.origin() == null ? "" : s.origin());
            for (VirtualHost vh : s.virtualHosts()) {
                var vb = dev.sluice.proxy.control.v1.VirtualHost.newBuilder().setName(vh.name() == null ? "" : vh.name())
                        .addAllDomains(vh.domains());
                for (Route r : vh.routes()) {
                    var rb = dev.sluice.proxy.control.v1.Route.newBuilder().setName(r.name() == null ? "" : r.name())
                            .setPathKind(r.pathKind().name()).setPath(r.path()).setCaseSensitive(r.caseSensitive());
                    for (HeaderMatch h : r.headers()) {
                        var hb = dev.sluice.proxy.control.v1.HeaderMatch.newBuilder().setName(h.name()).setPresent(h.present())
                                .setInvert(h.invert());
                        if (h.value() != null) {
                            hb.setValue(dev.sluice.proxy.control.v1.StringMatch.newBuilder().setKind(h.value().kind().name())
                                    .setValue(h.value().value()).setIgnoreCase(h.value().ignoreCase()));
                        }
                        rb.addHeaders(hb);
                    }
                    for (WeightedCluster wc : r.clusters()) {
                        rb.addClusters(dev.sluice.proxy.control.v1.WeightedCluster.newBuilder().setCluster(wc.cluster()).setWeight(wc.weight()));
                    }
                    vb.addRoutes(rb);
                }
                sb.addVirtualHosts(vb);
            }
            b.addServices(sb);
        }
        for (Cluster c : table.clusters().values()) {
            var cb = dev.sluice.proxy.control.v1.Cluster.newBuilder().setName(c.name()).setLbPolicy(c.lbPolicy().name())
                    .setConnectTimeoutMillis(c.connectTimeout().toMillis()).setHttp2(c.http2());
            for (Endpoint e : c.endpoints()) {
                cb.addEndpoints(dev.sluice.proxy.control.v1.Endpoint.newBuilder().setAddress(e.address()).setPort(e.port()).setPod(e.pod()));
            }
            b.addClusters(cb);
        }
        return b.build();
    }

    /** @throws IllegalArgumentException for a table the records refuse (an unknown enum name, a bad port or regex) */
    public static RouteTable decode(RouteTableUpdate u) {
        var services = u.getServicesList().stream().map(s -> new ServiceRoutes(s.getNamespace(), s.getService(), s.getPort(),
                s.getClusterIp(), s.getOrigin(), s.getVirtualHostsList().stream().map(vh -> new VirtualHost(vh.getName(),
                        vh.getDomainsList(), vh.getRoutesList().stream().map(r -> new Route(r.getName(),
                                Route.PathKind.valueOf(r.getPathKind()), r.getPath(), r.getCaseSensitive(),
                                r.getHeadersList().stream().map(h -> new HeaderMatch(h.getName(), h.hasValue()
                                        ? new StringMatch(StringMatch.Kind.valueOf(h.getValue().getKind()), h.getValue().getValue(),
                                        h.getValue().getIgnoreCase()) : null, h.getPresent(), h.getInvert())).toList(),
                                r.getClustersList().stream().map(wc -> new WeightedCluster(wc.getCluster(), wc.getWeight())).toList()))
                                .toList())).toList())).toList();
        Map<String, Cluster> clusters = new LinkedHashMap<>();
        for (var c : u.getClustersList()) {
            clusters.put(c.getName(), new Cluster(c.getName(), LbPolicy.valueOf(c.getLbPolicy()),
                    Duration.ofMillis(c.getConnectTimeoutMillis()), c.getEndpointsList().stream()
                    .map(e -> new Endpoint(e.getAddress(), e.getPort(), e.getPod())).toList(), c.getHttp2()));
        }
        return new RouteTable(services, clusters);
    }
}
