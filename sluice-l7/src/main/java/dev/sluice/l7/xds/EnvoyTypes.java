package dev.sluice.l7.xds;

import com.google.protobuf.TypeRegistry;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ConfigDump;
import io.envoyproxy.envoy.admin.v3.EndpointsConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;

/** The Envoy message types Sluice writes and reads inside {@code Any}s, and JSON in Envoy's mapping for them. */
public final class EnvoyTypes {
    // Constants (not computed from descriptors) so that they can be switch labels.
    public static final String LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener";
    public static final String ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
    public static final String CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    public static final String ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

    public static final TypeRegistry REGISTRY = TypeRegistry.newBuilder()
            .add(Listener.getDescriptor()).add(RouteConfiguration.getDescriptor()).add(Cluster.getDescriptor())
            .add(ClusterLoadAssignment.getDescriptor()).add(HttpConnectionManager.getDescriptor())
            .add(Router.getDescriptor()).add(HttpProtocolOptions.getDescriptor())
            .add(ConfigDump.getDescriptor()).add(ListenersConfigDump.getDescriptor()).add(RoutesConfigDump.getDescriptor())
            .add(ClustersConfigDump.getDescriptor()).add(EndpointsConfigDump.getDescriptor())
            .build();

    public static final JsonFormat.Printer PRINTER = JsonFormat.printer().usingTypeRegistry(REGISTRY);
    public static final JsonFormat.Parser PARSER = JsonFormat.parser().usingTypeRegistry(REGISTRY);

    private EnvoyTypes() {
    }
}
