package dev.sluice.l7;

import dev.sluice.l7.envoy.EnvoyConfig;
import dev.sluice.l7.envoy.EnvoyConfigParser;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestException;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.OtherObject;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EnvoyConfigParserTest {
    @TempDir
    Path dir;

    @Test
    void theSeedCanaryIsReadWithItsTypeQuirksNamed() {
        List<String> readerWarnings = new ArrayList<>();
        Desired desired = Seed.read(readerWarnings::add);
        List<String> warnings = new ArrayList<>();
        List<EnvoyConfig> configs = EnvoyConfigParser.parseAll(desired.others(), warnings::add);

        assertEquals(1, configs.size());
        EnvoyConfig cec = configs.getFirst();
        assertEquals("CiliumEnvoyConfig default/product-service-canary", cec.kindAndName());
        assertEquals(List.of(new EnvoyConfig.ServiceRef("default", "product-service", List.of())), cec.services());
        assertEquals(1, cec.routes().size());
        var vh = cec.routes().getFirst().getVirtualHosts(0);
        assertEquals(List.of("product-service:50051"), vh.getDomainsList());
        var split = vh.getRoutes(0).getRoute().getWeightedClusters().getClustersList();
        assertEquals("default/product-service-v1", split.get(0).getName());
        assertEquals(90, split.get(0).getWeight().getValue());
        assertEquals(10, split.get(1).getWeight().getValue());

        // Both Clusters lost their type URL to the second `type:` key; they are recognised by their fields.
        assertEquals(2, cec.clusters().size());
        Cluster v2 = cec.clusters().get(1);
        assertEquals("default/product-service-v2", v2.getName());
        assertEquals(Cluster.DiscoveryType.EDS, v2.getType());
        assertEquals(5, v2.getConnectTimeout().getSeconds());
        assertEquals("default/product-service-v2", v2.getEdsClusterConfig().getServiceName());

        assertEquals(3, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("canary-routing.yaml, document 1 (CiliumEnvoyConfig default/product-service-canary): "
                + "field spec.resources[0].type: read \"@type/envoy.config.route.v3.RouteConfiguration\""), warnings.get(0));
        assertTrue(warnings.get(1).contains("field spec.resources[1]: has no type URL (a second \"type\" key, \"EDS\", overwrote it")
                && warnings.get(1).endsWith("read as envoy.config.cluster.v3.Cluster by its fields"), warnings.get(1));
        assertTrue(warnings.get(2).contains("field spec.resources[2]: has no type URL"), warnings.get(2));
    }

    @Test
    void envoysOwnFormInAClusterwideV2ConfigWithAListener() throws Exception {
        EnvoyConfig config = EnvoyConfigParser.parse(only("""
                apiVersion: cilium.io/v2
                kind: CiliumClusterwideEnvoyConfig
                metadata: {name: web-routes}
                spec:
                  services: [{name: web, namespace: shop, ports: [80]}]
                  resources:
                  - "@type": type.googleapis.com/envoy.config.listener.v3.Listener
                    name: web-listener
                    filter_chains:
                    - filters:
                      - name: envoy.filters.network.http_connection_manager
                        typed_config:
                          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                          stat_prefix: web
                          rds: {route_config_name: web-routes}
                          http_filters:
                          - name: envoy.filters.http.router
                            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
                  - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
                    name: web-routes
                    virtual_hosts: [{name: web, domains: ["*"], routes: [{match: {path: /x}, route: {cluster: shop/web}}]}]
                  - "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
                    name: shop/web
                    type: STATIC
                    lb_policy: LEAST_REQUEST
                    load_assignment:
                      cluster_name: shop/web
                      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]
                """), w -> { throw new AssertionError("no warning expected: " + w); });
        assertEquals(1, config.listeners().size());
        assertEquals("web-routes", config.routes().getFirst().getName());
        assertEquals(Cluster.LbPolicy.LEAST_REQUEST, config.clusters().getFirst().getLbPolicy());
        assertEquals(List.of(new EnvoyConfig.ServiceRef("shop", "web", List.of(80))), config.services());
    }

    @Test
    void anUnknownFieldIsRefusedNamingFileObjectAndResource() throws Exception {
        ManifestException e = assertThrows(ManifestException.class, () -> EnvoyConfigParser.parse(only("""
                apiVersion: cilium.io/v2
                kind: CiliumEnvoyConfig
                metadata: {name: bad, namespace: default}
                spec:
                  services: [{name: web}]
                  resources:
                  - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
                    name: r
                    virtualHosts: [{name: v, domains: ["*"], routes: [{match: {prefix: /}, route: {clusterr: x}}]}]
                """), w -> { }));
        assertEquals("spec.resources[0]", e.field());
        assertTrue(e.getMessage().contains("cec.yaml, document 1 (CiliumEnvoyConfig default/bad): field spec.resources[0]: "
                + "not a valid envoy.config.route.v3.RouteConfiguration"), e.getMessage());
        assertTrue(e.getMessage().contains("clusterr"), e.getMessage());
    }

    @Test
    void aResourceOfNoKnownShapeAndAWrongVersionAreRefused() throws Exception {
        ManifestException shape = assertThrows(ManifestException.class, () -> EnvoyConfigParser.parse(only("""
                apiVersion: cilium.io/v2
                kind: CiliumEnvoyConfig
                metadata: {name: bad, namespace: default}
                spec:
                  resources: [{name: what, colour: blue}]
                """), w -> { }));
        assertEquals("spec.resources[0]", shape.field());
        assertTrue(shape.getMessage().contains("has no type URL"), shape.getMessage());

        ManifestException version = assertThrows(ManifestException.class, () -> EnvoyConfigParser.parse(only("""
                apiVersion: cilium.io/v1
                kind: CiliumEnvoyConfig
                metadata: {name: old, namespace: default}
                spec:
                  resources: [{"@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration, name: r}]
                """), w -> { }));
        assertEquals("apiVersion", version.field());
    }

    private OtherObject only(String yaml) throws Exception {
        Path file = dir.resolve("cec.yaml");
        Files.writeString(file, yaml);
        Desired desired = ManifestReader.read(List.of(file), w -> { });
        assertEquals(1, desired.others().size());
        return desired.others().getFirst();
    }
}
