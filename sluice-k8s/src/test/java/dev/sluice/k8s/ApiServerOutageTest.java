package dev.sluice.k8s;

import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterView;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.Map;

import static dev.sluice.k8s.KubeFixtures.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The source while the API server cannot be reached and after: it delivers nothing and says it is degraded
 * meanwhile, and when the server answers again (with 410 Gone to the old watches, as a real one whose
 * history moved on) it lists anew and reports what changed in between: creates, updates and deletes.
 */
class ApiServerOutageTest {
    private KubernetesMockServer server;
    private KubernetesClient writer;
    private ApiServerGap gap;
    private KubernetesClient agentClient;

    @BeforeEach
    void start() throws Exception {
        server = KubeFixtures.crudServer();
        writer = server.createClient();
        gap = new ApiServerGap(new InetSocketAddress("127.0.0.1", server.getPort()));
        Config config = new ConfigBuilder(Config.empty()).withMasterUrl(gap.url()).withNamespace("default")
                .withRequestRetryBackoffInterval(50).withWatchReconnectInterval(100).withWatchReconnectLimit(-1).build();
        agentClient = new KubernetesClientBuilder().withConfig(config).build();
    }

    @AfterEach
    void stop() throws Exception {
        agentClient.close();
        gap.close();
        writer.close();
        KubeFixtures.stop(server);
    }

    @Test
    void aWatchThatDropsAndResumesLosesNothing() throws Exception {
        writer.namespaces().resource(KubeFixtures.namespace("shop", Map.of())).create();
        writer.pods().resource(KubeFixtures.pod("shop", "web", "a", "node-1", "10.1.1.5", Map.of("app", "web"), true)).create();
        writer.pods().resource(KubeFixtures.pod("shop", "web", "b", "node-1", "10.1.1.6", Map.of("app", "web"), true)).create();
        writer.services().resource(KubeFixtures.service("shop", "web", "10.96.0.10", Map.of("app", "web"))).create();
        try (KubernetesClusterSource source = new KubernetesClusterSource(agentClient, java.time.Duration.ofSeconds(3))) {
            ClusterView before = source.next(60_000).orElseThrow().view();
            assertEquals(2, before.pods().size());
            awaitWatching(source);

            gap.cut();
            // Meanwhile, in the cluster: a pod deleted, one added, the Service changed.
            writer.pods().inNamespace("shop").withName("web-5d8f9c-a").delete();
            writer.pods().resource(KubeFixtures.pod("shop", "web", "c", "node-1", "10.1.1.7", Map.of("app", "web"), true)).create();
            writer.services().inNamespace("shop").withName("web").edit(s -> { s.getSpec().setSessionAffinity("ClientIP"); return s; });
            long waitUntil = System.nanoTime() + 10_000_000_000L;
            while (source.degraded().isEmpty() && System.nanoTime() < waitUntil) {
                assertTrue(source.next(100).isEmpty(), "nothing is delivered while the API server is unreachable");
            }
            assertTrue(source.degraded().orElseThrow().contains("not watching"), source.degraded().toString());
            assertTrue(source.next(500).isEmpty(), "nothing is delivered while the API server is unreachable");

            gap.resume();
            var followed = await(source, v -> v.pods().stream().map(ClusterView.Pod::name).sorted().toList()
                    .equals(java.util.List.of("web-5d8f9c-b", "web-5d8f9c-c")) && v.services().getFirst().clientIpAffinity());
            assertTrue(followed.events().contains(new ClusterEvent.Deleted(Kind.POD, "shop/web-5d8f9c-a")), followed.events().toString());
            assertTrue(followed.events().contains(new ClusterEvent.Upserted(Kind.POD, "shop/web-5d8f9c-c")), followed.events().toString());
            assertTrue(followed.events().contains(new ClusterEvent.Upserted(Kind.SERVICE, "shop/web")), followed.events().toString());
            assertTrue(gap.goneAnswered() > 0, "the watches were resumed through a 410 Gone");
            awaitWatching(source);
        }
    }

    /** Every watch open (they open one by one after the lists, so a moment after the first view). */
    private static void awaitWatching(KubernetesClusterSource source) throws InterruptedException {
        long waitUntil = System.nanoTime() + 20_000_000_000L;
        while (source.degraded().isPresent() && System.nanoTime() < waitUntil) {
            source.next(100);
        }
        assertTrue(source.degraded().isEmpty(), () -> source.describe().toString());
    }

    @Test
    void aWatchDownForLongerThanTheStallLimitIsReplacedAndItsListReconciled() throws Exception {
        writer.pods().resource(KubeFixtures.pod("shop", "web", "a", "node-1", "10.1.1.5", Map.of("app", "web"), true)).create();
        writer.pods().resource(KubeFixtures.pod("shop", "web", "b", "node-1", "10.1.1.6", Map.of("app", "web"), true)).create();
        try (KubernetesClusterSource source = new KubernetesClusterSource(agentClient, java.time.Duration.ofSeconds(1))) {
            assertEquals(2, source.next(60_000).orElseThrow().view().pods().size());
            awaitWatching(source);
            gap.cut();
            writer.pods().inNamespace("shop").withName("web-5d8f9c-a").delete();
            long until = System.nanoTime() + 3_000_000_000L; // longer than the stall limit
            while (System.nanoTime() < until) {
                assertTrue(source.next(100).isEmpty());
            }
            // No 410 this time: a watch resumed against the mock would hear of b again, never of a's delete.
            gap.resume(false);
            var followed = await(source, v -> v.pods().stream().map(ClusterView.Pod::name).toList().equals(java.util.List.of("web-5d8f9c-b")));
            assertTrue(followed.events().contains(new ClusterEvent.Deleted(Kind.POD, "shop/web-5d8f9c-a")), followed.events().toString());
            assertTrue(source.describe().stream().anyMatch(d -> d.startsWith("Pod ") && d.contains("restarted")), source.describe().toString());
            awaitWatching(source);
        }
    }

    @Test
    void aSourceStartedWhileTheApiServerIsDownSyncsWhenItComes() throws Exception {
        writer.pods().resource(KubeFixtures.pod("shop", "web", "a", "node-1", "10.1.1.5", Map.of("app", "web"), true)).create();
        gap.cut();
        try (KubernetesClusterSource source = new KubernetesClusterSource(agentClient, java.time.Duration.ofSeconds(3))) {
            assertTrue(source.next(1_000).isEmpty(), () -> "no first view before every kind is listed: " + source.describe());
            assertTrue(source.degraded().isPresent());
            gap.resume();
            var first = await(source, v -> v.pods().size() == 1);
            assertTrue(first.changes().getFirst().events().contains(new ClusterEvent.Synced()));
        }
    }
}
