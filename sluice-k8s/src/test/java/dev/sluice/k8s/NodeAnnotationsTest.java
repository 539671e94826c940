package dev.sluice.k8s;

import dev.sluice.agent.api.wireguard.WireGuardNames;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterView;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static dev.sluice.k8s.KubeFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the WireGuard subsystem needs of the Kubernetes source, against the mock API server in CRUD mode: an agent
 * publishes its public key as an annotation of its own Node, and every agent's view carries it.
 */
class NodeAnnotationsTest {
    private static final String KEY = WireGuardNames.PUBLIC_KEY_ANNOTATION;
    private KubernetesMockServer server;
    private KubernetesClient client;

    @BeforeEach
    void start() {
        server = KubeFixtures.crudServer();
        client = server.createClient();
        client.nodes().resource(KubeFixtures.node("node-1", "192.168.50.2", "10.1.1.0/24")).create();
        client.nodes().resource(KubeFixtures.node("node-2", "192.168.50.3", "10.1.2.0/24")).create();
    }

    @AfterEach
    void stop() {
        client.close();
        KubeFixtures.stop(server);
    }

    private static ClusterView.Node node(ClusterView view, String name) {
        return view.nodes().stream().filter(n -> n.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void oneAgentsAnnotationReachesTheOthersViewAndAnEmptyValueRemovesIt() throws Exception {
        try (var one = new KubernetesClusterSource(client, "node-1"); var two = new KubernetesClusterSource(client, "node-2")) {
            one.next(60_000).orElseThrow();
            two.next(60_000).orElseThrow();
            assertTrue(one.annotateNode(KEY, "b25lLWtleQ=="), () -> one.annotateError().orElse(""));
            var seen = await(two, v -> node(v, "node-1").annotation(KEY).equals("b25lLWtleQ=="));
            assertTrue(seen.events().contains(new ClusterEvent.Upserted(Kind.NODE, "node-1")), seen.events().toString());
            assertEquals("", node(seen.view(), "node-2").annotation(KEY));
            await(one, v -> node(v, "node-1").annotation(KEY).equals("b25lLWtleQ=="));
            assertEquals("b25lLWtleQ==", client.nodes().withName("node-1").get().getMetadata().getAnnotations().get(KEY));

            // A rotation replaces the value; an empty value removes the key.
            assertTrue(one.annotateNode(KEY, "dHdvLWtleQ=="));
            await(two, v -> node(v, "node-1").annotation(KEY).equals("dHdvLWtleQ=="));
            assertTrue(one.annotateNode(KEY, ""));
            await(two, v -> !node(v, "node-1").annotations().containsKey(KEY));
            Map<String, String> left = client.nodes().withName("node-1").get().getMetadata().getAnnotations();
            // A real API server drops a key a merge patch sets to null; the mock may keep it with no value.
            assertTrue(left == null || left.get(KEY) == null, "annotations left: " + left);
        }
    }

    @Test
    void thePatchKeepsWhatOthersWroteAndTheViewHoldsOnlySluicesAnnotations() throws Exception {
        client.nodes().withName("node-1").edit(n -> {
            n.getMetadata().setAnnotations(Map.of("node.alpha.kubernetes.io/ttl", "0"));
            return n;
        });
        try (var one = new KubernetesClusterSource(client, "node-1")) {
            one.next(60_000).orElseThrow();
            assertTrue(one.annotateNode(KEY, "a2V5"));
            var seen = await(one, v -> !node(v, "node-1").annotations().isEmpty());
            assertEquals(Map.of(KEY, "a2V5"), node(seen.view(), "node-1").annotations(), "kubelet's annotation is not in the view");
            Node stored = client.nodes().withName("node-1").get();
            assertEquals(Map.of("node.alpha.kubernetes.io/ttl", "0", KEY, "a2V5"), stored.getMetadata().getAnnotations());
            assertEquals("10.1.1.0/24", stored.getSpec().getPodCIDR(), "the patch touched the annotation only");
        }
    }

    @Test
    void aNodeNotRegisteredYetOrAnUnreachableServerIsNotNow() throws Exception {
        try (var ghost = new KubernetesClusterSource(client, "node-9")) {
            ghost.next(60_000).orElseThrow();
            assertFalse(ghost.annotateNode(KEY, "a2V5"));
            assertTrue(ghost.annotateError().orElseThrow().contains("node-9"), ghost.annotateError().toString());
            client.nodes().resource(KubeFixtures.node("node-9", "192.168.50.9", "10.1.9.0/24")).create();
            assertTrue(ghost.annotateNode(KEY, "a2V5"), "retried once the Node exists");
            assertTrue(ghost.annotateError().isEmpty());
        }
        try (var noNode = new KubernetesClusterSource(client)) {
            assertThrows(UnsupportedOperationException.class, () -> noNode.annotateNode(KEY, "a2V5"));
        }
        try (var one = new KubernetesClusterSource(client, "node-1")) {
            assertThrows(IllegalArgumentException.class, () -> one.annotateNode("example.com/other", "x"));
            one.next(60_000).orElseThrow();
            server.destroy();
            assertFalse(one.annotateNode(KEY, "a2V5"), "an unreachable API server: retried later");
        }
    }
}
