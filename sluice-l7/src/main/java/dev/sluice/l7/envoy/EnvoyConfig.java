package dev.sluice.l7.envoy;

import dev.sluice.model.Source;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;

import java.util.List;

/**
 * One CiliumEnvoyConfig or CiliumClusterwideEnvoyConfig read into Envoy v3 protos.
 *
 * @param namespace the object's namespace, null for a clusterwide one
 * @param services the Services whose traffic the configuration takes ({@code spec.services})
 * @param kindAndName {@code CiliumEnvoyConfig default/product-service-canary}, as messages name it
 */
public record EnvoyConfig(String kindAndName, String namespace, String name, Source source,
                          List<ServiceRef> services, List<Listener> listeners, List<RouteConfiguration> routes,
                          List<Cluster> clusters, List<ClusterLoadAssignment> loadAssignments) {
    public EnvoyConfig {
        services = List.copyOf(services);
        listeners = List.copyOf(listeners);
        routes = List.copyOf(routes);
        clusters = List.copyOf(clusters);
        loadAssignments = List.copyOf(loadAssignments);
    }

    /**
     * One entry of {@code spec.services}.
     *
     * @param ports the Service ports it applies to; empty for all of them
     */
    public record ServiceRef(String namespace, String name, List<Integer> ports) {
        public ServiceRef {
            ports = List.copyOf(ports);
        }
    }
}
