package dev.sluice.k8s;

import dev.sluice.agent.api.PodInterfaces;
import dev.sluice.model.OtherObject;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.cluster.ClusterDiff;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.sluice.k8s.KubeFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Kubernetes source against fabric8's mock API server in CRUD mode: every watched kind, readiness from EndpointSlices, two sources. */
class KubernetesClusterSourceTest {
    private KubernetesMockServer server;
    private KubernetesClient client;

    @BeforeEach
    void start() {
        server = KubeFixtures.crudServer();
        client = server.createClient();
    }

    @AfterEach
    void stop() {
        client.close();
        KubeFixtures.stop(server);
    }

    private void seed() {
        client.namespaces().resource(KubeFixtures.namespace("shop", Map.of("team", "a"))).create();
        client.nodes().resource(KubeFixtures.node("node-1", "192.168.50.2", "10.1.1.0/24")).create();
        client.pods().resource(KubeFixtures.pod("shop", "web", "x1", "node-1", "10.1.1.5", Map.of("app", "web"), true)).create();
        client.services().resource(KubeFixtures.service("shop", "web", "10.96.0.10", Map.of("app", "web"))).create();
    }

    @Test
    void theFirstChangeIsTheWholeClusterThenSynced() throws Exception {
        seed();
        try (ClusterSource source = new KubernetesClusterSource(client)) {
            var first = source.next(60_000).orElseThrow();
            ClusterView view = first.view();
            assertInstanceOf(ClusterEvent.Synced.class, first.events().getLast());
            assertTrue(first.events().contains(new ClusterEvent.Upserted(Kind.POD, "shop/web-5d8f9c-x1")), first.events().toString());
            assertEquals(List.of(new ClusterView.Node("node-1", "192.168.50.2", "10.1.1.0/24", "169.254.1.1")), view.nodes());
            assertEquals(Map.of("team", "a"), view.namespaces().getFirst().labels());
            ClusterView.Pod pod = view.pods().getFirst();
            assertEquals("10.1.1.5", pod.ip());
            assertEquals("node-1", pod.node());
            assertTrue(pod.running() && pod.ready());
            assertEquals("web", pod.owner(), "the Deployment above the ReplicaSet");
            assertEquals(PodInterfaces.hostInterface("shop", "web-5d8f9c-x1"), pod.hostInterface());
            assertEquals("http", pod.ports().getFirst().name());
            ServiceSpec service = view.services().getFirst();
            assertEquals("shop/web", service.ref().toString());
            assertEquals("http", service.ports().getFirst().targetPort().name());
            assertEquals(Map.of("shop/web", "10.96.0.10"), view.clusterIps());
        }
    }

    @Test
    void followsCreateUpdateAndDeleteOfEveryWatchedKind() throws Exception {
        try (ClusterSource source = new KubernetesClusterSource(client)) {
            assertEquals(List.of(new ClusterEvent.Synced()), source.next(60_000).orElseThrow().events());

            // Create.
            seed();
            Map<WatchedKind, GenericKubernetesResource> others = new LinkedHashMap<>();
            for (WatchedKind kind : WatchedKind.OTHERS) {
                GenericKubernetesResource r = KubeFixtures.other(kind, "shop", "o-" + kind.plural(), Map.of("version", 1));
                KubeFixtures.create(client, kind, r);
                others.put(kind, r);
            }
            var created = await(source, v -> v.pods().size() == 1 && v.services().size() == 1 && v.nodes().size() == 1
                    && v.namespaces().size() == 1 && v.objects().size() == WatchedKind.OTHERS.size());
            assertTrue(created.events().containsAll(List.of(new ClusterEvent.Upserted(Kind.NODE, "node-1"),
                    new ClusterEvent.Upserted(Kind.NAMESPACE, "shop"), new ClusterEvent.Upserted(Kind.POD, "shop/web-5d8f9c-x1"),
                    new ClusterEvent.Upserted(Kind.SERVICE, "shop/web"))), created.events().toString());
            for (WatchedKind kind : WatchedKind.OTHERS) {
                OtherObject o = created.view().objects().stream().filter(x -> x.kind().equals(kind.kind())).findFirst().orElseThrow();
                assertEquals(kind.apiVersion(), o.apiVersion());
                assertEquals(kind.clusterScoped() ? null : "shop", o.ref().namespace(), kind.kind());
                assertEquals(1, o.body().path("spec").path("version").asInt());
                assertTrue(created.events().contains(new ClusterEvent.Upserted(Kind.OBJECT, ClusterDiff.objectKey(o))), kind.kind());
            }

            // Update: each kind in a way the view holds.
            client.namespaces().withName("shop").edit(n -> { n.getMetadata().getLabels().put("team", "b"); return n; });
            client.nodes().withName("node-1").edit(n -> { n.getSpec().setPodCIDR("10.1.2.0/24"); return n; });
            client.pods().inNamespace("shop").withName("web-5d8f9c-x1").edit(p -> { p.getMetadata().getLabels().put("version", "v2"); return p; });
            client.services().inNamespace("shop").withName("web").edit(s -> { s.getSpec().setSessionAffinity("ClientIP"); return s; });
            for (var e : others.entrySet()) {
                e.getValue().setAdditionalProperty("spec", Map.of("version", 2));
                KubeFixtures.update(client, e.getKey(), e.getValue());
            }
            var updated = await(source, v -> v.namespaces().getFirst().labels().get("team").equals("b")
                    && v.nodes().getFirst().podCidr().equals("10.1.2.0/24")
                    && "v2".equals(v.pods().getFirst().labels().get("version"))
                    && v.services().getFirst().clientIpAffinity()
                    && v.objects().stream().allMatch(o -> o.body().path("spec").path("version").asInt() == 2));
            assertTrue(updated.events().containsAll(List.of(new ClusterEvent.Upserted(Kind.NODE, "node-1"),
                    new ClusterEvent.Upserted(Kind.NAMESPACE, "shop"), new ClusterEvent.Upserted(Kind.POD, "shop/web-5d8f9c-x1"),
                    new ClusterEvent.Upserted(Kind.SERVICE, "shop/web"))), updated.events().toString());
            assertEquals(WatchedKind.OTHERS.size(), updated.events().stream()
                    .filter(e -> e instanceof ClusterEvent.Upserted u && u.kind() == Kind.OBJECT).distinct().count());

            // Delete.
            client.pods().inNamespace("shop").withName("web-5d8f9c-x1").delete();
            client.services().inNamespace("shop").withName("web").delete();
            client.nodes().withName("node-1").delete();
            client.namespaces().withName("shop").delete();
            others.forEach((kind, r) -> KubeFixtures.delete(client, kind, r));
            var deleted = await(source, v -> v.pods().isEmpty() && v.services().isEmpty() && v.nodes().isEmpty()
                    && v.namespaces().isEmpty() && v.objects().isEmpty() && v.clusterIps().isEmpty());
            assertTrue(deleted.events().containsAll(List.of(new ClusterEvent.Deleted(Kind.NODE, "node-1"),
                    new ClusterEvent.Deleted(Kind.NAMESPACE, "shop"), new ClusterEvent.Deleted(Kind.POD, "shop/web-5d8f9c-x1"),
                    new ClusterEvent.Deleted(Kind.SERVICE, "shop/web"))), deleted.events().toString());
            assertEquals(WatchedKind.OTHERS.size(), deleted.events().stream()
                    .filter(e -> e instanceof ClusterEvent.Deleted d && d.kind() == Kind.OBJECT).count());
            assertTrue(source.degraded().isEmpty(), source.degraded().toString());
        }
    }

    @Test
    void anUpdateOfWhatTheViewDoesNotHoldIsNoChange() throws Exception {
        seed();
        try (ClusterSource source = new KubernetesClusterSource(client)) {
            source.next(60_000).orElseThrow();
            client.pods().inNamespace("shop").withName("web-5d8f9c-x1")
                    .edit(p -> { p.getMetadata().getAnnotations().put("touched", "yes"); return p; });
            // The annotation makes an informer event but no change of the view: nothing is delivered.
            assertTrue(source.next(1_500).isEmpty());
        }
    }

    @Test
    void endpointSlicesDecideWhichPodsBackAService() throws Exception {
        seed();
        Pod ready = client.pods().inNamespace("shop").withName("web-5d8f9c-x1").get();
        Pod unready = client.pods().resource(KubeFixtures.pod("shop", "web", "x2", "node-1", "10.1.1.6", Map.of("app", "web"), false)).create();
        try (ClusterSource source = new KubernetesClusterSource(client)) {
            ClusterView view = source.next(60_000).orElseThrow().view();
            // Without slices: the pods' Ready conditions.
            assertEquals(Map.of("web-5d8f9c-x1", true, "web-5d8f9c-x2", false), readiness(view));

            // The slice controller takes the first out (terminating, say) and the second in: the slice wins.
            client.discovery().v1().endpointSlices().resource(KubeFixtures.slice("shop", "web", Map.of(ready, false, unready, true))).create();
            var followed = await(source, v -> readiness(v).equals(Map.of("web-5d8f9c-x1", false, "web-5d8f9c-x2", true)));
            assertTrue(followed.events().contains(new ClusterEvent.Upserted(Kind.POD, "shop/web-5d8f9c-x1")), followed.events().toString());
            assertTrue(followed.events().stream().noneMatch(e -> e instanceof ClusterEvent.Upserted u && u.kind() == Kind.OBJECT),
                    "a slice is no object of its own in the view: " + followed.events());

            // The slice gone: the pods' own conditions again.
            client.discovery().v1().endpointSlices().inNamespace("shop").withName("web-abcde").delete();
            await(source, v -> readiness(v).equals(Map.of("web-5d8f9c-x1", true, "web-5d8f9c-x2", false)));
        }
    }

    @Test
    void podsWithoutAnAddressOfTheirOwnAreNoEndpoints() throws Exception {
        seed();
        client.pods().resource(new PodBuilder(KubeFixtures.pod("shop", "web", "pending", "node-1", "10.1.1.7", Map.of(), false))
                .editStatus().withPodIP(null).withPhase("Pending").endStatus().build()).create();
        client.pods().resource(new PodBuilder(KubeFixtures.pod("shop", "agent", "host", "node-1", "192.168.50.2", Map.of(), true))
                .editSpec().withHostNetwork(true).endSpec().build()).create();
        client.pods().resource(new PodBuilder(KubeFixtures.pod("shop", "job", "done", "node-1", "10.1.1.8", Map.of(), false))
                .editStatus().withPhase("Succeeded").endStatus().build()).create();
        try (ClusterSource source = new KubernetesClusterSource(client)) {
            assertEquals(List.of("web-5d8f9c-x1"), source.next(60_000).orElseThrow().view().pods().stream().map(ClusterView.Pod::name).toList());
        }
    }

    @Test
    void twoSourcesAgree() throws Exception {
        try (KubernetesClient other = server.createClient();
             ClusterSource a = new KubernetesClusterSource(client);
             ClusterSource b = new KubernetesClusterSource(other)) {
            seed();
            for (int i = 0; i < 20; i++) {
                client.pods().resource(KubeFixtures.pod("shop", "api", "p" + i, "node-1", "10.1.1." + (20 + i), Map.of("app", "api"), i % 3 != 0)).create();
            }
            for (int i = 0; i < 20; i += 4) {
                client.pods().inNamespace("shop").withName("api-5d8f9c-p" + i).delete();
            }
            var pa = await(a, v -> v.pods().size() == 16 && v.services().size() == 1);
            var pb = await(b, v -> v.pods().size() == 16 && v.services().size() == 1);
            assertEquals(pa.view(), pb.view());
        }
    }

    private static Map<String, Boolean> readiness(ClusterView view) {
        Map<String, Boolean> out = new LinkedHashMap<>();
        view.pods().forEach(p -> out.put(p.name(), p.ready()));
        return out;
    }
}
