package dev.sluice.l7.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.sluice.l7.Seed;
import dev.sluice.l7.envoy.EnvoyConfig;
import dev.sluice.l7.envoy.EnvoyConfigParser;
import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.model.Desired;
import dev.sluice.model.cluster.ClusterView;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class XdsResourcesTest {
    private static final Map<String, Integer> PORTS = Map.of("default/product-service:50051", 15001);

    private static ClusterView seedView() {
        Desired desired = Seed.read(w -> { });
        return Seed.view(desired, (d, r) -> "10.1.0." + (10 * (d + 1) + r));
    }

    private static XdsSnapshot seedSnapshot(ClusterView view) {
        List<EnvoyConfig> configs = EnvoyConfigParser.parseAll(view.objects(), w -> { });
        return XdsResources.compile(configs, view, "node-1", PORTS, w -> { });
    }

    @Test
    void theSeedsCanaryGivesTheSameRouteTableDirectlyAndThroughXds() throws Exception {
        ClusterView view = seedView();
        List<String> warnings = new ArrayList<>();
        RouteTable direct = L7Compiler.compile(EnvoyConfigParser.parseAll(view.objects(), w -> { }), view, warnings::add);
        XdsSnapshot snapshot = seedSnapshot(view);
        ProxyConfig viaXds = XdsRouteTable.toProxyConfig(snapshot);

        assertEquals(direct, viaXds.table());
        assertFalse(direct.services().isEmpty());
        assertEquals(List.of(new ListenerBinding("default/product-service:50051", "default/product-service:50051", "10.1.0.1", 15001, true)),
                viaXds.listeners());
        assertEquals(List.of(), XdsRouteTable.missing(snapshot));
        // One listener, one route configuration, the two EDS clusters with their load assignments.
        assertEquals(1, snapshot.listeners().size());
        assertEquals(List.of("default/product-service:50051"), snapshot.routes().stream().map(RouteConfiguration::getName).toList());
        assertEquals(List.of("default/product-service-v1", "default/product-service-v2"),
                snapshot.clusters().stream().map(Cluster::getName).toList());
        assertEquals(3, snapshot.endpoints().getFirst().getEndpoints(0).getLbEndpointsCount());
        assertEquals("default/product-service-v1-0", snapshot.endpoints().getFirst().getEndpoints(0).getLbEndpoints(0).getEndpoint().getHostname());
    }

    @Test
    void everyResourceSurvivesEnvoysJsonMappingAndHasWhatEnvoyRequires() throws Exception {
        XdsSnapshot snapshot = seedSnapshot(seedView());
        for (Message resource : snapshot.all()) {
            String json = EnvoyTypes.PRINTER.print(Any.pack(resource));
            Any.Builder back = Any.newBuilder();
            EnvoyTypes.PARSER.merge(json, back);
            assertEquals(resource, back.build().unpack(resource.getClass()), json);
            assertEquals(List.of(), PgvValidator.validate(resource), json);
        }
        Listener listener = snapshot.listeners().getFirst();
        assertEquals("default/product-service:50051", listener.getName());
        assertEquals("10.1.0.1", listener.getAddress().getSocketAddress().getAddress());
        assertEquals(15001, listener.getAddress().getSocketAddress().getPortValue());
        HttpConnectionManager hcm = listener.getFilterChains(0).getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class);
        assertEquals("envoy.filters.network.http_connection_manager", listener.getFilterChains(0).getFilters(0).getName());
        assertEquals("default/product-service:50051", hcm.getRds().getRouteConfigName());
        assertEquals(ConfigSource.ConfigSourceSpecifierCase.ADS, hcm.getRds().getConfigSource().getConfigSourceSpecifierCase());
        assertEquals("envoy.filters.http.router", hcm.getHttpFilters(hcm.getHttpFiltersCount() - 1).getName());
        for (Cluster c : snapshot.clusters()) {
            assertEquals(Cluster.DiscoveryType.EDS, c.getType());
            assertEquals(ConfigSource.ConfigSourceSpecifierCase.ADS, c.getEdsClusterConfig().getEdsConfig().getConfigSourceSpecifierCase());
            assertTrue(c.hasConnectTimeout());
        }
        assertEquals(snapshot.clusters().stream().map(Cluster::getName).toList(),
                snapshot.endpoints().stream().map(e -> e.getClusterName()).toList());
    }

    @Test
    void theValidatorFindsWhatEnvoyWouldRefuse() {
        RouteConfiguration rc = seedSnapshot(seedView()).routes().getFirst();
        RouteConfiguration noDomains = rc.toBuilder().setVirtualHosts(0, rc.getVirtualHosts(0).toBuilder().clearDomains()).build();
        assertEquals(List.of("RouteConfiguration.virtual_hosts[0].domains: at least 1 item(s) required, has 0"),
                PgvValidator.validate(noDomains));
        Listener listener = seedSnapshot(seedView()).listeners().getFirst();
        HttpConnectionManager hcm;
        try {
            hcm = listener.getFilterChains(0).getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        Listener noPrefix = listener.toBuilder().setFilterChains(0, listener.getFilterChains(0).toBuilder().setFilters(0,
                listener.getFilterChains(0).getFilters(0).toBuilder().setTypedConfig(Any.pack(hcm.toBuilder().clearStatPrefix().build())))).build();
        assertEquals(List.of("Listener.filter_chains[0].filters[0].typed_config<HttpConnectionManager>.stat_prefix: at least 1 character(s) required"),
                PgvValidator.validate(noPrefix));
    }

    @Test
    void whatTheProxyCannotRunIsRefusedNamingTheResourceAndWhatIsNotHeldIsMissing() {
        XdsSnapshot snapshot = seedSnapshot(seedView());
        Cluster dns = snapshot.clusters().getFirst().toBuilder().setType(Cluster.DiscoveryType.STRICT_DNS).build();
        XdsSnapshot bad = new XdsSnapshot(snapshot.listeners(), snapshot.routes(), List.of(dns, snapshot.clusters().get(1)), snapshot.endpoints());
        XdsException e = assertThrows(XdsException.class, () -> XdsRouteTable.toProxyConfig(bad));
        assertEquals("Cluster default/product-service-v1: type STRICT_DNS is not supported (EDS and STATIC are)", e.getMessage());

        XdsSnapshot noRoutes = new XdsSnapshot(snapshot.listeners(), List.of(), snapshot.clusters(), snapshot.endpoints().subList(0, 1));
        assertEquals(List.of("RouteConfiguration default/product-service:50051", "ClusterLoadAssignment default/product-service-v2"),
                XdsRouteTable.missing(noRoutes));
    }
}
