package dev.sluice.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The model as the lab stores it, and its apply/delete semantics. */
class DesiredTest {
    private static final Source SOURCE = new Source(Path.of("examples/app.yaml"), 2);

    private static DeploymentSpec deployment(String namespace, String name, int replicas) {
        return new DeploymentSpec(new ObjectRef(namespace, name), replicas, Map.of("app", name),
                new PodTemplate(Map.of("app", name), List.of(new ContainerSpec("main", "img:1", List.of("run"),
                        List.of("--port", "80"), List.of(new ContainerPort("http", 80, Protocol.TCP)), Map.of("MODE", "x")))),
                SOURCE);
    }

    private static ServiceSpec service(String name, String clusterIP) {
        return new ServiceSpec(new ObjectRef("default", name), "ClusterIP", clusterIP,
                List.of(new ServicePort("http", 80, TargetPort.of("http"), Protocol.TCP),
                        new ServicePort("metrics", 9090, TargetPort.of(9090), Protocol.TCP)),
                Map.of("app", name), true, SOURCE);
    }

    private static OtherObject policy(String namespace, String name, String apiVersion) {
        var body = JsonNodeFactory.instance.objectNode().put("apiVersion", apiVersion).put("kind", "CiliumNetworkPolicy");
        body.putObject("metadata").put("name", name);
        return new OtherObject(apiVersion, "CiliumNetworkPolicy", new ObjectRef(namespace, name), SOURCE, body);
    }

    @Test
    void roundTripsThroughJson() throws Exception {
        Desired desired = new Desired(
                List.of(new NamespaceSpec("shop", Map.of("team", "a"))),
                List.of(deployment("shop", "web", 3)),
                List.of(new PodSpec(new ObjectRef("default", "client"), new PodTemplate(Map.of(), List.of(
                        new ContainerSpec("c", null, List.of(), List.of(), List.of(), Map.of()))), null, SOURCE)),
                List.of(service("web", null), service("db", "None")),
                List.of(policy(null, "global", "cilium.io/v2"), policy("shop", "local", "cilium.io/v2")));
        ObjectMapper json = new ObjectMapper();

        String text = json.writeValueAsString(desired);

        assertEquals(desired, json.readValue(text, Desired.class));
        assertEquals("examples/app.yaml", json.readTree(text).at("/deployments/0/source/file").asText());
    }

    @Test
    void applyReplacesInPlaceAndAppendsNewObjects() {
        Desired base = new Desired(List.of(), List.of(deployment("default", "a", 1), deployment("default", "b", 1)),
                List.of(), List.of(service("a", null)), List.of(policy("default", "p", "cilium.io/v2")));
        Desired changes = new Desired(List.of(new NamespaceSpec("new", Map.of())),
                List.of(deployment("default", "c", 1), deployment("default", "a", 5), deployment("other", "b", 2)),
                List.of(), List.of(), List.of(policy("default", "p", "cilium.io/v2alpha1")));

        Desired applied = base.apply(changes);

        assertEquals(List.of(deployment("default", "a", 5), deployment("default", "b", 1), deployment("default", "c", 1),
                deployment("other", "b", 2)), applied.deployments());
        assertEquals(base.services(), applied.services());
        assertEquals(List.of(policy("default", "p", "cilium.io/v2alpha1")), applied.others());
        assertEquals(List.of(new NamespaceSpec("new", Map.of())), applied.namespaces());
        assertEquals(Set.of("default", "new", "other"), applied.namespacesUsed());
    }

    @Test
    void deleteRemovesObjectsOfTheSameKindAndName() {
        Desired base = new Desired(List.of(new NamespaceSpec("shop", Map.of())),
                List.of(deployment("default", "a", 1), deployment("default", "b", 1)), List.of(),
                List.of(service("a", null)), List.of(policy("default", "p", "cilium.io/v2"), policy("default", "q", "cilium.io/v2")));
        Desired removed = new Desired(List.of(), List.of(deployment("default", "a", 99), deployment("default", "zzz", 1)),
                List.of(), List.of(), List.of(policy("default", "p", "cilium.io/v2alpha1")));

        Desired left = base.delete(removed);

        assertEquals(List.of(deployment("default", "b", 1)), left.deployments());
        assertEquals(base.services(), left.services());
        assertEquals(List.of(policy("default", "q", "cilium.io/v2")), left.others());
        assertEquals(base.namespaces(), left.namespaces());
        assertEquals(Desired.empty(), base.delete(base));
    }

    @Test
    void deletingAServiceLeavesTheDeploymentOfTheSameName() {
        Desired base = new Desired(List.of(), List.of(deployment("default", "a", 1)), List.of(), List.of(service("a", null)), List.of());
        Desired left = base.delete(new Desired(List.of(), List.of(), List.of(), List.of(service("a", null)), List.of()));
        assertEquals(List.of(), left.services());
        assertEquals(base.deployments(), left.deployments());
    }
}
