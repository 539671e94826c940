package dev.sluice.l7;

import dev.sluice.l7.envoy.L7Compiler;
import dev.sluice.l7.gateway.GatewayRoutes;
import dev.sluice.l7.gateway.RouteStatus;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.xds.XdsRoundTrip;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.cluster.ClusterView;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gateway API mesh routes (GAMMA) translated to Envoy resources and compiled with the seed's pods: the seed's
 * product-service plus Services product-service-v1 and -v2 selecting each version.
 */
class GatewayRoutesTest {
    private static final Function<String, String> NO_HEADERS = h -> null;
    private static final String VERSION_SERVICES = """
            apiVersion: v1
            kind: Service
            metadata: {name: product-service-v1}
            spec:
              selector: {app: product-service, version: v1}
              ports: [{port: 50051, targetPort: 50051, name: grpc}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: product-service-v2}
            spec:
              selector: {app: product-service, version: v2}
              ports: [{port: 50051, targetPort: 50051, name: grpc}]
            """;

    @TempDir
    Path dir;

    private ClusterView view(String routes) throws Exception {
        Path seed = Seed.root().resolve("examples/seed/product-service.yaml");
        Path extra = dir.resolve("services.yaml");
        Files.writeString(extra, VERSION_SERVICES);
        Path file = dir.resolve("routes.yaml");
        Files.writeString(file, routes);
        Desired desired = ManifestReader.read(List.of(seed, extra, file));
        return Seed.view(desired, (d, r) -> "10.1.0." + (10 * (d + 1) + r));
    }

    private record Compiled(GatewayRoutes.Translation translation, RouteTable table, List<String> warnings) {
        Route route(String path, Map<String, String> headers) {
            return table.match(null, "product-service:50051", path, h -> headers.get(h)).orElseThrow().route();
        }

        RouteStatus status(String name) {
            return translation.statuses().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
        }
    }

    private Compiled compile(String routes) throws Exception {
        ClusterView view = view(routes);
        List<String> warnings = new ArrayList<>();
        GatewayRoutes.Translation t = GatewayRoutes.translate(view, warnings::add);
        // Every translation's table is also checked through xDS, the only way the lab's proxy takes one.
        RouteTable table = XdsRoundTrip.assertSurvives(L7Compiler.compile(t.configs(), view, warnings::add));
        return new Compiled(t, table, warnings);
    }

    private static final String CANARY = """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: canary-http}
            spec:
              parentRefs: [{group: "", kind: Service, name: product-service, port: 50051}]
              rules:
              - matches:
                - headers: [{name: x-canary, value: "true"}]
                backendRefs: [{name: product-service-v2, port: 50051}]
              - backendRefs:
                - {name: product-service-v1, port: 50051, weight: 90}
                - {name: product-service-v2, port: 50051, weight: 10}
            """;

    @Test
    void anHttpRouteOnAServiceSplitsByWeightAndSendsTheCanaryHeaderToV2() throws Exception {
        Compiled c = compile(CANARY);
        assertEquals(List.of(), c.warnings());
        assertEquals(List.of(), c.translation().problems());
        assertEquals("default/product-service:50051", c.table().services().getFirst().key());
        assertEquals("HTTPRoute default/canary-http", c.table().services().getFirst().origin());

        Route canary = c.route("/sluice.echo.v1.Echo/Ping", Map.of("x-canary", "true"));
        assertEquals(List.of(new WeightedCluster("default/product-service-v2:50051", 1)), canary.clusters());
        Route rest = c.route("/sluice.echo.v1.Echo/Ping", Map.of("x-canary", "false"));
        assertEquals(List.of(new WeightedCluster("default/product-service-v1:50051", 90), new WeightedCluster("default/product-service-v2:50051", 10)),
                rest.clusters());
        // The backendRefs are Services now: their selected pods.
        assertEquals(List.of(new Endpoint("10.1.0.20", 50051, "default/product-service-v2-0")),
                c.table().clusters().get("default/product-service-v2:50051").endpoints());
        assertEquals(3, c.table().clusters().get("default/product-service-v1:50051").endpoints().size());
        // Reached by the Service's names and ClusterIP, with or without the port; no other authority.
        assertTrue(c.table().match(null, "product-service.default.svc.cluster.local:50051", "/", NO_HEADERS).isPresent());
        assertTrue(c.table().match(null, "10.96.0.10:50051", "/", NO_HEADERS).isPresent());
        assertTrue(c.table().match(null, "other:50051", "/", NO_HEADERS).isEmpty());
        // No timeout unless the route sets one (Envoy's 15 s default would cut streams).
        assertEquals(Duration.ZERO, rest.timeout());

        RouteStatus status = c.status("canary-http");
        assertEquals("Service default/product-service:50051", status.parent());
        assertTrue(status.is("Accepted") && status.is("ResolvedRefs"), status.toString());
    }

    @Test
    void aGrpcRouteMatchesServiceAndMethodAsPaths() throws Exception {
        Compiled c = compile("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: GRPCRoute
                metadata: {name: echo}
                spec:
                  parentRefs: [{group: "", kind: Service, name: product-service}]
                  rules:
                  - matches: [{method: {service: sluice.echo.v1.Echo}}]
                    backendRefs: [{name: product-service-v1, port: 50051}]
                  - matches: [{method: {service: sluice.echo.v1.Echo, method: Ping}, headers: [{name: X-Canary, value: "true"}]}]
                    backendRefs: [{name: product-service-v2, port: 50051}]
                  - matches: [{method: {type: RegularExpression, service: "grpc\\\\.health\\\\..*"}}]
                    backendRefs: [{name: product-service-v2, port: 50051}]
                """);
        assertEquals(List.of(), c.translation().problems());
        String v1 = "default/product-service-v1:50051";
        String v2 = "default/product-service-v2:50051";
        // The exact service+method match comes first though written second (precedence), with its header.
        assertEquals(v2, c.route("/sluice.echo.v1.Echo/Ping", Map.of("x-canary", "true")).clusters().getFirst().cluster());
        assertEquals(v1, c.route("/sluice.echo.v1.Echo/Ping", Map.of()).clusters().getFirst().cluster());
        assertEquals(v1, c.route("/sluice.echo.v1.Echo/Other", Map.of()).clusters().getFirst().cluster());
        assertEquals(v2, c.route("/grpc.health.v1.Health/Check", Map.of()).clusters().getFirst().cluster());
        // A service prefix is whole: sluice.echo.v1.EchoX is not sluice.echo.v1.Echo.
        assertTrue(c.table().match(null, "product-service:50051", "/sluice.echo.v1.EchoX/Ping", NO_HEADERS).isEmpty());
        assertTrue(c.status("echo").is("Accepted"));
    }

    @Test
    void pathQueryMethodHeaderModifiersAndTimeoutsAreTranslatedInGatewayApiPrecedence() throws Exception {
        Compiled c = compile("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: a}
                spec:
                  parentRefs: [{group: "", kind: Service, name: product-service}]
                  rules:
                  - matches: [{path: {type: PathPrefix, value: /api}}]
                    backendRefs: [{name: product-service-v1, port: 50051}]
                  - matches: [{path: {type: PathPrefix, value: /api}, method: POST}]
                    filters:
                    - type: RequestHeaderModifier
                      requestHeaderModifier:
                        set: [{name: X-Env, value: canary}]
                        add: [{name: x-trace, value: "1"}]
                        remove: [x-debug]
                    timeouts: {request: 1500ms}
                    backendRefs: [{name: product-service-v2, port: 50051}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: b}
                spec:
                  parentRefs: [{group: "", kind: Service, name: product-service}]
                  rules:
                  - matches:
                    - path: {type: PathPrefix, value: /api/v2/}
                    - path: {type: Exact, value: /api}
                      queryParams: [{name: version, value: "2"}]
                    backendRefs: [{name: product-service-v2, port: 50051}]
                """);
        assertEquals(List.of(), c.translation().problems());
        String v1 = "default/product-service-v1:50051";
        String v2 = "default/product-service-v2:50051";
        assertEquals(v1, c.route("/api/x", Map.of(":method", "GET")).clusters().getFirst().cluster());
        // The longest prefix wins across routes; PathPrefix is by segment (/api/v2x is not under /api/v2).
        assertEquals(v2, c.route("/api/v2/items", Map.of(":method", "GET")).clusters().getFirst().cluster());
        assertEquals(v1, c.route("/api/v2x", Map.of(":method", "GET")).clusters().getFirst().cluster());
        assertTrue(c.table().match(null, "product-service", "/apix", h -> "GET").isEmpty());
        // An exact path before any prefix, with its query parameter.
        assertEquals(v2, c.route("/api?version=2", Map.of(":method", "GET")).clusters().getFirst().cluster());
        assertEquals(v1, c.route("/api?version=3", Map.of(":method", "GET")).clusters().getFirst().cluster());
        // A method match before one without.
        Route post = c.route("/api/x", Map.of(":method", "POST"));
        assertEquals(v2, post.clusters().getFirst().cluster());
        assertEquals(Duration.ofMillis(1500), post.timeout());
        assertEquals(List.of(Map.entry("x-env", "canary")), post.requestHeaders().set());
        assertEquals(List.of(Map.entry("x-trace", "1")), post.requestHeaders().add());
        assertEquals(List.of("x-debug"), post.requestHeaders().remove());
    }

    @Test
    void aMissingBackendIsResolvedRefsFalseAndItsShareIsAnswered500() throws Exception {
        Compiled c = compile("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: half}
                spec:
                  parentRefs: [{group: "", kind: Service, name: product-service}]
                  rules:
                  - backendRefs:
                    - {name: product-service-v1, port: 50051, weight: 1}
                    - {name: product-service-v3, port: 50051, weight: 1}
                    - {name: product-service-v2, port: 50051, weight: 0}
                """);
        RouteStatus status = c.status("half");
        assertTrue(status.is("Accepted"));
        var resolved = status.conditions().stream().filter(x -> x.type().equals("ResolvedRefs")).findFirst().orElseThrow();
        assertFalse(resolved.status());
        assertEquals("BackendNotFound", resolved.reason());
        assertTrue(resolved.message().contains("default/product-service-v3:50051"), resolved.message());
        Route route = c.route("/", Map.of());
        assertEquals(500, route.clusterNotFoundStatus());
        // Weight 0 is never chosen; the missing one stays in the split but is no cluster.
        assertEquals(List.of(new WeightedCluster("default/product-service-v1:50051", 1), new WeightedCluster("default/product-service-v3:50051", 1)),
                route.clusters());
        assertFalse(c.table().clusters().containsKey("default/product-service-v3:50051"));
        assertTrue(c.table().clusters().containsKey("default/product-service-v1:50051"));
    }

    @Test
    void unsupportedContentRefusesTheRouteNamingFileAndFieldAndAMissingParentIsNotAccepted() throws Exception {
        Compiled c = compile("""
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: redirect}
                spec:
                  parentRefs: [{group: "", kind: Service, name: product-service}]
                  rules:
                  - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]
                    backendRefs: [{name: product-service-v1, port: 50051}]
                ---
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata: {name: orphan}
                spec:
                  parentRefs: [{group: "", kind: Service, name: no-such-service}]
                  rules:
                  - backendRefs: [{name: product-service-v1, port: 50051}]
                """);
        RouteStatus refused = c.status("redirect");
        assertFalse(refused.is("Accepted"));
        String message = refused.conditions().getFirst().message();
        assertTrue(message.contains("routes.yaml, document 1") && message.contains("field spec.rules[0].filters[0].type")
                && message.contains("RequestRedirect"), message);
        assertEquals(1, c.translation().problems().size());
        RouteStatus orphan = c.status("orphan");
        assertEquals("NoMatchingParent", orphan.conditions().getFirst().reason());
        assertTrue(c.table().services().isEmpty(), "nothing is routed: " + c.table().describe());
    }

    @Test
    void theTranslationIsValidEnvoyConfiguration() throws Exception {
        GatewayRoutes.Translation t = GatewayRoutes.translate(view(CANARY), w -> { });
        RouteConfiguration rc = t.configs().getFirst().routes().getFirst();
        // Round trip through Envoy's JSON mapping: what a stock Envoy would be served.
        String json = com.google.protobuf.util.JsonFormat.printer().print(rc);
        RouteConfiguration.Builder back = RouteConfiguration.newBuilder();
        com.google.protobuf.util.JsonFormat.parser().merge(json, back);
        assertEquals(rc, back.build());
        assertTrue(json.contains("\"clusterNotFoundResponseCode\": \"INTERNAL_SERVER_ERROR\""), json);
        assertEquals(2, t.configs().getFirst().clusters().size());
    }
}
