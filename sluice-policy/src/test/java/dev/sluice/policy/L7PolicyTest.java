package dev.sluice.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.sluice.model.Protocol.TCP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HTTP rules (CiliumNetworkPolicy {@code toPorts.rules.http}) read, and decided per request by the reference evaluator. */
class L7PolicyTest {
    @TempDir
    Path dir;

    private final Cluster cluster = new Cluster();
    private final ReferenceEvaluator evaluator = ReferenceEvaluator.kubernetesDefaults();

    /** prod/api may GET /public... on web's HTTP port; staging clients may call one gRPC method on api; db may do anything. */
    static final String HTTP = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-http, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - fromEndpoints:
                - matchLabels: {app: api}
                toPorts:
                - ports: [{port: http, protocol: TCP}]
                  rules:
                    http:
                    - {method: GET, path: "/public.*"}
                    - method: PUT
                      path: /upload
                      host: "web(\\\\.prod)?(:8080)?"
                      headers: ["X-Token: s3cret", "X-Trace"]
              - fromEndpoints:
                - matchLabels: {app: db}
                toPorts:
                - ports: [{port: "8080", protocol: TCP}]
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: api-grpc, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: api}}
              ingress:
              - fromEndpoints:
                - matchLabels: {app: client}
                toPorts:
                - ports: [{port: "50051", protocol: TCP}]
                  rules:
                    http:
                    - {method: POST, path: "/echo.Echo/Unary"}
              - fromEndpoints:
                - matchLabels: {app: client}
                toPorts:
                - ports: [{port: "50051", protocol: TCP}]
                  rules:
                    http:
                    - path: "/grpc.health.v1.Health/.*"
                      headerMatches: [{name: content-type, value: application/grpc}]
            """;

    private Decision http(PolicySet p, String to, String from, int port, HttpRequest request) {
        return evaluator.decideHttp(p, cluster.pod(to), cluster.peer(from), port, request);
    }

    @Test
    void methodAndPathAreFullMatchRegexes() {
        PolicySet p = cluster.policies(dir, "p.yaml", HTTP);
        Decision get = http(p, "prod/web", "prod/api", 8080, HttpRequest.of("GET", "/public/index.html", "web"));
        assertEquals("ALLOW: allowed by CiliumNetworkPolicy prod/web-http spec.ingress[0].toPorts[0].rules.http[0]", get.toString());
        assertTrue(http(p, "prod/web", "prod/api", 8080, HttpRequest.of("GET", "/public?x=1", "")).allowed());
        // anchored: a path merely containing /public, or a method merely starting with GET, is no match
        assertFalse(http(p, "prod/web", "prod/api", 8080, HttpRequest.of("GET", "/x/public", "")).allowed());
        assertFalse(http(p, "prod/web", "prod/api", 8080, HttpRequest.of("GETX", "/public", "")).allowed());
        Decision post = http(p, "prod/web", "prod/api", 8080, HttpRequest.of("POST", "/public", "web"));
        assertEquals("DENY (Policy denied, 133): CiliumNetworkPolicy prod/web-http spec.ingress[0].toPorts[0].rules.http",
                post.toString());
    }

    @Test
    void hostAndHeadersMustAllHold() {
        PolicySet p = cluster.policies(dir, "p.yaml", HTTP);
        Map<String, List<String>> both = Map.of("x-token", List.of("s3cret"), "X-Trace", List.of("1"));
        assertTrue(http(p, "prod/web", "prod/api", 8080, new HttpRequest("PUT", "/upload", "web.prod:8080", both)).allowed());
        assertFalse(http(p, "prod/web", "prod/api", 8080, new HttpRequest("PUT", "/upload", "other:8080", both)).allowed());
        assertFalse(http(p, "prod/web", "prod/api", 8080, new HttpRequest("PUT", "/upload", "web",
                Map.of("x-token", List.of("wrong"), "x-trace", List.of("1")))).allowed());
        assertFalse(http(p, "prod/web", "prod/api", 8080, new HttpRequest("PUT", "/upload", "web",
                Map.of("x-token", List.of("s3cret")))).allowed(), "X-Trace must be present");
        HttpRule put = p.policies().getFirst().rules().getFirst().peerRules().getFirst().toPorts().getFirst().http().get(1);
        assertEquals("[x-token: s3cret, x-trace]", put.headers().toString());
    }

    @Test
    void aPeerAllowedWithoutL7RulesIsNotRestrictedAtL7() {
        PolicySet p = cluster.policies(dir, "p.yaml", HTTP);
        assertEquals(List.of(), evaluator.httpRules(p, cluster.pod("prod/web"), cluster.pod("prod/db"), 8080));
        Decision anything = http(p, "prod/web", "prod/db", 8080, HttpRequest.of("DELETE", "/admin", ""));
        assertEquals("ALLOW: allowed by CiliumNetworkPolicy prod/web-http spec.ingress[1]", anything.toString());
        // and directly, in the kernel, it keeps its L4 allow
        assertTrue(evaluator.decide(p, cluster.pod("prod/web"), Direction.INGRESS, cluster.pod("prod/db"), TCP, 8080).allowed());
    }

    @Test
    void aPeerAllowedByBothAPlainAndAnL7RuleIsNotRestricted() {
        PolicySet p = cluster.policies(dir, "p.yaml", HTTP + """
                ---
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: api-anything, namespace: prod}
                spec:
                  endpointSelector: {matchLabels: {app: web}}
                  ingress:
                  - fromEndpoints: [{matchLabels: {app: api}}]
                """);
        assertEquals(List.of(), evaluator.httpRules(p, cluster.pod("prod/web"), cluster.pod("prod/api"), 8080));
        assertTrue(http(p, "prod/web", "prod/api", 8080, HttpRequest.of("POST", "/", "")).allowed());
    }

    @Test
    void rulesOfOnePortAreOredAcrossEntriesAndPolicies() {
        PolicySet p = cluster.policies(dir, "p.yaml", HTTP);
        assertEquals(2, evaluator.httpRules(p, cluster.pod("prod/api"), cluster.pod("prod/client"), 50051).size());
        Decision unary = http(p, "prod/api", "prod/client", 50051, HttpRequest.grpc("echo.Echo", "Unary", "api:50051"));
        assertEquals("ALLOW: allowed by CiliumNetworkPolicy prod/api-grpc spec.ingress[0].toPorts[0].rules.http[0]", unary.toString());
        Decision health = http(p, "prod/api", "prod/client", 50051, HttpRequest.grpc("grpc.health.v1.Health", "Check", ""));
        assertEquals("CiliumNetworkPolicy prod/api-grpc spec.ingress[1].toPorts[0].rules.http[0]", health.policy() + " " + health.rule());
        Decision stream = http(p, "prod/api", "prod/client", 50051, HttpRequest.grpc("echo.Echo", "ServerStream", ""));
        assertFalse(stream.allowed());
        assertEquals("CiliumNetworkPolicy prod/api-grpc spec.ingress[0].toPorts[0].rules.http", stream.policy() + " " + stream.rule());
        // the header rule holds only with the gRPC content type
        assertFalse(http(p, "prod/api", "prod/client", 50051, HttpRequest.of("POST", "/grpc.health.v1.Health/Check", "")).allowed());
    }

    @Test
    void aPeerNotAllowedAtL4IsDeniedAtL4() {
        PolicySet p = cluster.policies(dir, "p.yaml", HTTP);
        Decision other = http(p, "prod/web", "prod/client", 8080, HttpRequest.of("GET", "/public", ""));
        assertEquals("DENY (Policy denied, 133): CiliumNetworkPolicy prod/web-http spec.endpointSelector", other.toString());
        Decision staging = http(p, "prod/api", "staging/client", 50051, HttpRequest.grpc("echo.Echo", "Unary", ""));
        assertEquals("CiliumNetworkPolicy prod/api-grpc spec.endpointSelector", staging.policy() + " " + staging.rule());
    }

    @Test
    void theKernelAdmitsTheProxiesOnTheL7PortNotThePeerDirectly() {
        PolicySet p = cluster.policies(dir, "p.yaml", HTTP);
        Decision direct = evaluator.decide(p, cluster.pod("prod/web"), Direction.INGRESS, cluster.pod("prod/api"), TCP, 8080);
        assertEquals("DENY (Policy denied, 133): CiliumNetworkPolicy prod/web-http spec.endpointSelector", direct.toString());
        assertTrue(evaluator.decideProxied(p, cluster.pod("prod/web"), cluster.pod("prod/api"), 8080).allowed());
        assertTrue(evaluator.decide(p, cluster.pod("prod/web"), Direction.INGRESS, cluster.peer("remote-node"), TCP, 8080).allowed());
        assertTrue(evaluator.decide(p, cluster.pod("prod/web"), Direction.INGRESS, cluster.peer("host"), TCP, 8080).allowed());
        assertFalse(evaluator.decide(p, cluster.pod("prod/web"), Direction.INGRESS, cluster.peer("remote-node"), TCP, 9090).allowed());
        assertFalse(evaluator.decide(p, cluster.pod("prod/web"), Direction.INGRESS, cluster.peer("world"), TCP, 8080).allowed());
    }
}
