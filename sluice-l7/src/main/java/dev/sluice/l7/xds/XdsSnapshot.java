package dev.sluice.l7.xds;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;

import java.util.ArrayList;
import java.util.List;

/**
 * The Envoy v3 resources one node's proxy is configured with, as the agent serves them over ADS and as the proxy
 * holds them: Listeners (one per redirected Service port), RouteConfigurations (by RDS), Clusters (EDS) and
 * ClusterLoadAssignments. Plain protos, so that a stock Envoy could take the same set.
 */
public record XdsSnapshot(List<Listener> listeners, List<RouteConfiguration> routes, List<Cluster> clusters,
                          List<ClusterLoadAssignment> endpoints) {
    public XdsSnapshot {
        listeners = List.copyOf(listeners);
        routes = List.copyOf(routes);
        clusters = List.copyOf(clusters);
        endpoints = List.copyOf(endpoints);
    }

    public static XdsSnapshot empty() {
        return new XdsSnapshot(List.of(), List.of(), List.of(), List.of());
    }

    /** Every resource, listeners first. */
    public List<Message> all() {
        List<Message> all = new ArrayList<>(listeners);
        all.addAll(routes);
        all.addAll(clusters);
        all.addAll(endpoints);
        return all;
    }
}
