package dev.sluice.l7;

import dev.sluice.l7.envoy.EnvoyConfigParser;
import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.xds.XdsRoundTrip;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.cluster.ClusterView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class L7CompilerTest {
    private static final Function<String, String> NO_HEADERS = h -> null;

    @TempDir
    Path dir;

    @Test
    void theSeedCompilesToANinetyTenSplitOverTheDeploymentsPods() {
        Desired desired = Seed.read(w -> { });
        ClusterView view = Seed.view(desired, (d, r) -> "10.1.0." + (10 * (d + 1) + r));
        List<String> warnings = new ArrayList<>();
        RouteTable table = L7Compiler.compile(EnvoyConfigParser.parseAll(view.objects(), w -> { }), view, warnings::add);
        XdsRoundTrip.assertSurvives(table);
        assertEquals(List.of(), warnings);

        assertEquals(1, table.services().size());
        ServiceRoutes service = table.services().getFirst();
        assertEquals("default/product-service:50051", service.key());
        assertEquals("10.96.0.10", service.clusterIp());
        // The seed's domain, then the Service's other names with the same port: full names and the ClusterIP.
        assertEquals(List.of("product-service:50051", "product-service.default:50051", "product-service.default.svc:50051",
                "product-service.default.svc.cluster.local:50051", "10.96.0.10:50051"), service.virtualHosts().getFirst().domains());
        assertTrue(table.match(service, "10.96.0.10:50051", "/sluice.echo.v1.Echo/Ping", NO_HEADERS).isPresent());

        Route route = table.match(null, "product-service:50051", "/sluice.echo.v1.Echo/Ping", NO_HEADERS).orElseThrow().route();
        assertEquals(List.of(new WeightedCluster("default/product-service-v1", 90), new WeightedCluster("default/product-service-v2", 10)),
                route.clusters());
        // product-service-v1 and -v2 are Deployments, not Services: their ready pods, on the Service's target port.
        var v1 = table.clusters().get("default/product-service-v1");
        assertEquals(LbPolicy.ROUND_ROBIN, v1.lbPolicy());
        assertEquals(List.of(new Endpoint("10.1.0.10", 50051, "default/product-service-v1-0"),
                new Endpoint("10.1.0.11", 50051, "default/product-service-v1-1"),
                new Endpoint("10.1.0.12", 50051, "default/product-service-v1-2")), v1.endpoints());
        assertEquals(List.of(new Endpoint("10.1.0.20", 50051, "default/product-service-v2-0")),
                table.clusters().get("default/product-service-v2").endpoints());

        assertTrue(table.match(null, "other-service:50051", "/", NO_HEADERS).isEmpty());
    }

    @Test
    void unreadyPodsAndPodsOfAnotherNamespaceAreNotEndpoints() {
        Desired desired = Seed.read(w -> { });
        ClusterView seed = Seed.view(desired, (d, r) -> "10.1.0." + (10 * (d + 1) + r));
        List<ClusterView.Pod> pods = new ArrayList<>();
        for (ClusterView.Pod p : seed.pods()) {
            boolean ready = !p.name().equals("product-service-v1-1");
            pods.add(new ClusterView.Pod(p.namespace(), p.name(), p.node(), p.ip(), p.hostInterface(), p.cgroup(), p.labels(),
                    p.ports(), true, ready, p.owner()));
        }
        pods.add(new ClusterView.Pod("other", "product-service-v2-x", "node-1", "10.2.0.9", "veth-x", "",
                Map.of("app", "product-service"), List.of(), true, true, "product-service-v2"));
        ClusterView view = new ClusterView(seed.nodes(), seed.namespaces(), pods, seed.services(), seed.clusterIps(), seed.objects());
        RouteTable table = L7Compiler.compile(EnvoyConfigParser.parseAll(view.objects(), w -> { }), view, w -> { });
        XdsRoundTrip.assertSurvives(table);
        assertEquals(List.of("10.1.0.10", "10.1.0.12"),
                table.clusters().get("default/product-service-v1").endpoints().stream().map(Endpoint::address).toList());
        assertEquals(List.of("10.1.0.20"),
                table.clusters().get("default/product-service-v2").endpoints().stream().map(Endpoint::address).toList());
    }

    @Test
    void aClusterNamingAServiceTakesItsSelectedPodsAndRoutesMatchPathAndHeaders() throws Exception {
        Path file = dir.resolve("shop.yaml");
        Files.writeString(file, """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  selector: {app: web}
                  ports: [{name: http, port: 80, targetPort: http}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web-beta, namespace: shop}
                spec:
                  selector: {app: web, track: beta}
                  ports: [{port: 80, targetPort: 9090}]
                ---
                apiVersion: cilium.io/v2
                kind: CiliumEnvoyConfig
                metadata: {name: web, namespace: shop}
                spec:
                  services: [{name: web}]
                  resources:
                  - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
                    name: web
                    virtualHosts:
                    - name: web
                      domains: ["web", "web.shop", "*.shop.svc.cluster.local"]
                      routes:
                      - match: {prefix: /api, headers: [{name: x-track, stringMatch: {exact: beta}}]}
                        route: {cluster: shop/web-beta}
                      - match: {prefix: /}
                        route: {cluster: shop/web}
                """);
        Desired desired = ManifestReader.read(List.of(file), w -> { });
        List<ClusterView.Pod> pods = List.of(
                new ClusterView.Pod("shop", "web-a", "n", "10.1.0.2", "v", "", Map.of("app", "web"),
                        List.of(new dev.sluice.model.ContainerPort("http", 8080, dev.sluice.model.Protocol.TCP)), true, true),
                new ClusterView.Pod("shop", "web-b", "n", "10.1.0.3", "v", "", Map.of("app", "web", "track", "beta"),
                        List.of(new dev.sluice.model.ContainerPort("http", 8081, dev.sluice.model.Protocol.TCP)), true, true));
        ClusterView view = new ClusterView(List.of(), List.of(), pods, desired.services(), Map.of(), desired.others());
        RouteTable table = L7Compiler.compile(EnvoyConfigParser.parseAll(view.objects(), w -> { }), view, w -> { });
        XdsRoundTrip.assertSurvives(table);

        // The named target port resolves per pod.
        assertEquals(List.of(new Endpoint("10.1.0.2", 8080, "shop/web-a"), new Endpoint("10.1.0.3", 8081, "shop/web-b")),
                table.clusters().get("shop/web").endpoints());
        assertEquals(List.of(new Endpoint("10.1.0.3", 9090, "shop/web-b")), table.clusters().get("shop/web-beta").endpoints());

        Function<String, String> beta = h -> h.equals("x-track") ? "beta" : null;
        assertEquals("shop/web-beta", table.match(null, "web.shop:80", "/api/items?x=1", beta).orElseThrow().route().clusters().getFirst().cluster());
        assertEquals("shop/web", table.match(null, "web.shop:80", "/api/items", NO_HEADERS).orElseThrow().route().clusters().getFirst().cluster());
        assertEquals("shop/web", table.match(null, "web.shop.svc.cluster.local", "/", NO_HEADERS).orElseThrow().route().clusters().getFirst().cluster());
        assertTrue(table.match(null, "shop.svc.cluster.local", "/", NO_HEADERS).isEmpty());
    }

    @Test
    void routeActionsQueryMatchesHeaderChangesTimeoutAndRetryPolicyAreCompiled() throws Exception {
        Path file = dir.resolve("actions.yaml");
        Files.writeString(file, """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  selector: {app: web}
                  ports: [{port: 80, targetPort: 8080}]
                ---
                apiVersion: cilium.io/v2
                kind: CiliumEnvoyConfig
                metadata: {name: web, namespace: shop}
                spec:
                  services: [{name: web}]
                  resources:
                  - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
                    name: web
                    virtualHosts:
                    - name: web
                      domains: ["web"]
                      routes:
                      - match: {pathSeparatedPrefix: /api, queryParameters: [{name: v, stringMatch: {exact: "2"}}]}
                        requestHeadersToAdd:
                        - {header: {key: x-env, value: canary}, appendAction: OVERWRITE_IF_EXISTS_OR_ADD}
                        - {header: {key: x-trace, value: "1"}, appendAction: APPEND_IF_EXISTS_OR_ADD}
                        requestHeadersToRemove: [x-debug]
                        route:
                          cluster: shop/web
                          timeout: 2.5s
                          retryPolicy: {retryOn: "unavailable,5xx,refused-stream", numRetries: 2, perTryTimeout: 0.5s,
                                        retryBackOff: {baseInterval: 0.05s, maxInterval: 1s}}
                      - match: {prefix: /}
                        route: {cluster: shop/web}
                """);
        Desired desired = ManifestReader.read(List.of(file), w -> { });
        ClusterView view = new ClusterView(List.of(), List.of(), List.of(), desired.services(), Map.of(), desired.others());
        List<String> warnings = new ArrayList<>();
        RouteTable table = L7Compiler.compile(EnvoyConfigParser.parseAll(view.objects(), w -> { }), view, warnings::add);
        XdsRoundTrip.assertSurvives(table);
        Route api = table.match(null, "web", "/api/x?v=2", NO_HEADERS).orElseThrow().route();
        assertEquals(Route.PathKind.SEPARATED_PREFIX, api.pathKind());
        assertEquals(java.time.Duration.ofMillis(2500), api.timeout());
        assertEquals(List.of(Map.entry("x-env", "canary")), api.requestHeaders().set());
        assertEquals(List.of(Map.entry("x-trace", "1")), api.requestHeaders().add());
        assertEquals(List.of("x-debug"), api.requestHeaders().remove());
        assertEquals(new dev.sluice.l7.route.RetryPolicy(java.util.Set.of("unavailable", "5xx"), 2, java.time.Duration.ofMillis(500),
                java.util.Set.of(), new dev.sluice.l7.route.RetryPolicy.BackOff(java.time.Duration.ofMillis(50), java.time.Duration.ofSeconds(1))),
                api.retry());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("retryOn \"refused-stream\" is not supported")), warnings.toString());
        // The query decides; /apix is not under /api; a route without a timeout gets Envoy's 15 s.
        Route rest = table.match(null, "web", "/api/x?v=3", NO_HEADERS).orElseThrow().route();
        assertEquals("/", rest.path());
        assertEquals(java.time.Duration.ofSeconds(15), rest.timeout());
        assertEquals("/", table.match(null, "web", "/apix?v=2", NO_HEADERS).orElseThrow().route().path());
    }
}
