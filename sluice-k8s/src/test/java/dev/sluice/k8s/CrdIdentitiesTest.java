package dev.sluice.k8s;

import dev.sluice.agent.api.Identities.Assignment;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Label;
import dev.sluice.policy.Labels;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Identities as CiliumIdentity objects in the mock API server: agents allocating at once agree, and unused ones are collected. */
class CrdIdentitiesTest {
    private KubernetesMockServer server;
    private final List<KubernetesClient> clients = new ArrayList<>();

    @BeforeEach
    void start() {
        server = KubeFixtures.crudServer();
    }

    @AfterEach
    void stop() {
        clients.forEach(KubernetesClient::close);
        KubeFixtures.stop(server);
    }

    private CrdIdentities agent(AtomicLong clock) {
        KubernetesClient client = server.createClient();
        clients.add(client);
        return new CrdIdentities(client, Duration.ofMinutes(15), clock::get);
    }

    private static Labels app(String name) {
        return Labels.of(Label.k8s("app", name), Label.k8s("io.kubernetes.pod.namespace", "shop"));
    }

    @Test
    void theObjectsAreCiliumIdentitiesNamedByNumber() {
        AtomicLong clock = new AtomicLong(1_000);
        IdentityAllocator allocator = agent(clock).allocate(List.of(app("web")));
        assertEquals(Map.of(app("web"), 256), allocator.assignments());
        GenericKubernetesResource o = clients.getFirst().genericKubernetesResources(CrdIdentities.CONTEXT).withName("256").get();
        assertEquals("CiliumIdentity", o.getKind());
        assertEquals(Map.of("k8s:app", "web", "k8s:io.kubernetes.pod.namespace", "shop"), o.getAdditionalProperties().get("security-labels"));
        assertEquals("web", o.getMetadata().getLabels().get("app"));
    }

    @Test
    void twoAgentsAllocatingAtOnceAgree() throws Exception {
        AtomicLong clock = new AtomicLong(1_000);
        int agents = 4;
        // Each agent sees the pods in its own order; every set overlaps with the others'.
        List<Labels> all = IntStream.range(0, 24).mapToObj(i -> app("svc" + i)).toList();
        CyclicBarrier together = new CyclicBarrier(agents);
        ExecutorService pool = Executors.newFixedThreadPool(agents);
        try {
            List<Future<Map<Labels, Integer>>> results = new ArrayList<>();
            for (int a = 0; a < agents; a++) {
                CrdIdentities store = agent(clock);
                List<Labels> mine = new ArrayList<>(all.subList(a * 4, a * 4 + 12));
                java.util.Collections.shuffle(mine, new java.util.Random(a));
                Callable<Map<Labels, Integer>> run = () -> {
                    together.await();
                    Map<Labels, Integer> got = new HashMap<>();
                    for (Labels l : mine) { // one pod at a time, as an agent sees them appear
                        IdentityAllocator allocator = store.allocate(mine.subList(0, mine.indexOf(l) + 1));
                        got.put(l, allocator.allocate(l).id());
                    }
                    return got;
                };
                results.add(pool.submit(run));
            }
            Map<Labels, Integer> agreed = new HashMap<>();
            for (Future<Map<Labels, Integer>> f : results) {
                f.get().forEach((labels, id) -> {
                    Integer other = agreed.putIfAbsent(labels, id);
                    assertTrue(other == null || other.equals(id), labels + " is " + id + " on one agent and " + other + " on another");
                });
            }
            assertEquals(all.subList(0, 24).size(), agreed.size());
            assertEquals(agreed.size(), new HashSet<>(agreed.values()).size(), "one number per label set: " + agreed);
            // What is stored agrees with what every agent uses, and a new agent reads the same numbers.
            Map<Labels, Integer> read = new HashMap<>();
            agent(clock).read().forEach(a -> read.merge(a.labels(), a.id(), Math::min));
            assertEquals(agreed, read);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void unusedIdentitiesAreReleasedAfterTheGracePeriodAndKeptWhileUsed() {
        AtomicLong clock = new AtomicLong(1_000_000);
        CrdIdentities a = agent(clock);
        CrdIdentities b = agent(clock);
        a.allocate(List.of(app("web"), app("db")));
        assertEquals(Map.of(app("db"), 256, app("web"), 257), b.allocate(List.of(app("web"), app("db"))).assignments());

        // db's pods are gone: marked unused, kept for the grace period.
        b.allocate(List.of(app("web")));
        Assignment db = a.read().stream().filter(x -> x.labels().equals(app("db"))).findFirst().orElseThrow();
        assertEquals(1_000_000, db.unusedSinceEpochMs());
        clock.addAndGet(Duration.ofMinutes(10).toMillis());
        a.allocate(List.of(app("web")));
        assertEquals(2, a.read().size());

        // Used again before the grace period ends: the mark goes, the number stays.
        assertEquals(256, a.allocate(List.of(app("web"), app("db"))).allocate(app("db")).id());
        assertEquals(0, b.read().stream().filter(x -> x.id() == 256).findFirst().orElseThrow().unusedSinceEpochMs());

        // Unused for the whole grace period: deleted, and its number is free again.
        b.allocate(List.of(app("web")));
        clock.addAndGet(Duration.ofMinutes(15).toMillis());
        a.allocate(List.of(app("web")));
        assertEquals(List.of(257), a.read().stream().map(Assignment::id).toList());
        assertEquals(256, b.allocate(List.of(app("web"), app("cache"))).allocate(app("cache")).id());
    }

    @Test
    void objectsThatAreNoPodIdentitiesAreLeftAlone() {
        KubernetesClient client = server.createClient();
        clients.add(client);
        GenericKubernetesResource foreign = new io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder()
                .withApiVersion("cilium.io/v2").withKind("CiliumIdentity").withNewMetadata().withName("256").endMetadata().build();
        foreign.setAdditionalProperty("security-labels", Map.of("reserved:host", ""));
        client.genericKubernetesResources(CrdIdentities.CONTEXT).resource(foreign).create();
        IdentityAllocator allocator = agent(new AtomicLong()).allocate(List.of(app("web")));
        assertEquals(257, allocator.allocate(app("web")).id(), "256 is taken, whatever it holds");
        assertNotNull(client.genericKubernetesResources(CrdIdentities.CONTEXT).withName("256").get());
    }
}
