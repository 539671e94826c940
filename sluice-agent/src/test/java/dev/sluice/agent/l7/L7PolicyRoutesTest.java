package dev.sluice.agent.l7;

import dev.sluice.l7.route.RouteTable;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.Protocol;
import dev.sluice.model.cluster.ClusterView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which Service ports L7 policy sends through the proxy, and the pass-through routes they get. */
class L7PolicyRoutesTest {
    @TempDir
    Path dir;

    private ClusterView view(String policy) throws Exception {
        Path file = dir.resolve("m.yaml");
        Files.writeString(file, """
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  selector: {app: web}
                  ports:
                  - {name: http, port: 80, targetPort: http}
                  - {name: grpc, port: 50051, targetPort: 50051}
                  - {name: admin, port: 9090, targetPort: 9090}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: other}
                spec:
                  selector: {app: other}
                  ports: [{port: 8080, targetPort: 8080}]
                """ + policy);
        Desired desired = ManifestReader.read(List.of(file));
        List<ContainerPort> ports = List.of(new ContainerPort("http", 8080, Protocol.TCP), new ContainerPort("grpc", 50051, Protocol.TCP),
                new ContainerPort("admin", 9090, Protocol.TCP));
        List<ClusterView.Pod> pods = new ArrayList<>();
        pods.add(new ClusterView.Pod("default", "web-0", "node-1", "10.1.0.5", "v0", "", Map.of("app", "web"), ports, true, true, "web"));
        pods.add(new ClusterView.Pod("default", "web-1", "node-2", "10.2.0.5", "v1", "", Map.of("app", "web"), ports, true, false, "web"));
        pods.add(new ClusterView.Pod("default", "other-0", "node-1", "10.1.0.6", "v2", "", Map.of("app", "other"),
                List.of(new ContainerPort("", 8080, Protocol.TCP)), true, true, "other"));
        return new ClusterView(List.of(new ClusterView.Node("node-1", "10.0.0.1", "10.1.0.0/24", "10.1.0.1")), desired.namespaces(),
                pods, desired.services(), Map.of("default/web", "10.96.0.7", "default/other", "10.96.0.8"), desired.others());
    }

    private static final String POLICY = """
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-l7}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: client}}]
                toPorts:
                - ports: [{port: http, protocol: TCP}]
                  rules: {http: [{method: GET}]}
                - ports: [{port: "50051", protocol: TCP}]
                  rules: {http: [{path: "/pkg.S/M"}]}
              - fromEndpoints: [{matchLabels: {app: partner}}]
                toPorts:
                - ports: [{port: "9090", protocol: TCP}]
            """;

    @Test
    void theServicePortsWhosePodsHaveHttpRulesGetAPassThroughRouteToTheReadyPods() throws Exception {
        var result = L7PolicyRoutes.add(RouteTable.empty(), view(POLICY), w -> {
            throw new AssertionError(w);
        });
        assertEquals(List.of("default/web:80", "default/web:50051"), result.policyPorts());
        RouteTable table = result.table();
        var http = table.matchOn("default/web:80", "10.96.0.7:80", "/anything", h -> null).orElseThrow();
        assertEquals("default/web:80", http.service().key());
        var cluster = table.clusters().get(http.route().clusters().getFirst().cluster());
        assertEquals("[10.1.0.5:8080 (default/web-0)]", cluster.endpoints().toString(), "ready pods, named target port resolved");
        assertEquals(1, http.route().clusters().size(), "a plain pass-through, no weights");
        var grpc = table.matchOn("default/web:50051", "web:50051", "/pkg.S/M", h -> null).orElseThrow();
        assertEquals("[10.1.0.5:50051 (default/web-0)]", table.clusters().get(grpc.route().clusters().getFirst().cluster())
                .endpoints().toString());
        assertTrue(table.matchOn("default/other:8080", "other:8080", "/", h -> null).isEmpty(), "a port without HTTP rules is not proxied");
        assertTrue(table.matchOn("default/web:9090", "web:9090", "/", h -> null).isEmpty(), "nor one allowed without them");
    }

    @Test
    void withoutHttpRulesNothingIsRedirected() throws Exception {
        var result = L7PolicyRoutes.add(RouteTable.empty(), view(POLICY.replaceAll("\\s+rules: \\{http: \\[[^\\n]*\\}", "")), w -> { });
        assertEquals(List.of(), result.policyPorts());
        assertEquals(RouteTable.empty(), result.table());
    }
}
