package dev.sluice.agent.k8s;

import dev.sluice.agent.core.Agent;
import dev.sluice.agent.lb.LbDatapath;
import dev.sluice.agent.lb.LbSubsystem;
import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.LbMapWriter;
import dev.sluice.datapath.lb.LbMaps;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.model.SluiceValues;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The agent in Kubernetes mode: its source found by name ({@code --source kubernetes}, the API server from the
 * client's configuration, here fabric8's mock in CRUD mode) and its load balancing on a node's real pinned
 * maps. Services, pods and EndpointSlices written through the API become frontends and backends in the LB
 * maps, and follow updates and deletes.
 */
class KubernetesModeTest {
    @Test
    void servicesWrittenThroughTheApiReachTheLbMaps() throws Exception {
        Privileged.require();
        java.util.logging.Logger.getLogger("io.fabric8.mockwebserver").setLevel(java.util.logging.Level.WARNING);
        Path pinDir = BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT).resolve(Names.unique("sluice-k8s"));
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(List.of()), false);
        server.init();
        // How an agent outside the cluster finds the API server: the client's configuration, not a kubeconfig here.
        System.setProperty("kubernetes.master", server.url("/"));
        System.setProperty("kubernetes.auth.tryKubeConfig", "false");
        System.setProperty("kubernetes.auth.tryServiceAccount", "false");
        Thread agentThread = null;
        try (KubernetesClient api = server.createClient();
             ClusterSource source = ClusterSource.open("kubernetes", "k8s", "node-1")) {
            SluiceValues values = SluiceValues.defaults();
            LbDatapath datapath = new LbDatapath(pinDir, Path.of("/sys/fs/cgroup"), false, values.maglevTableSize(), 4096 * 16);
            LbSubsystem lb = new LbSubsystem("node-1", datapath, "-", values.maglevTableSize());
            Agent agent = new Agent(source, List.of(lb), report -> { });
            agentThread = Thread.ofPlatform().name("agent").start(() -> {
                try {
                    agent.run();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });

            api.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("shop").endMetadata().build()).create();
            Pod a = api.pods().resource(pod("web-a", "10.1.2.5")).create();
            Pod b = api.pods().resource(pod("web-b", "10.1.2.6")).create();
            api.services().resource(new ServiceBuilder().withNewMetadata().withNamespace("shop").withName("web").endMetadata()
                    .withNewSpec().withClusterIP("10.96.0.10").withSelector(Map.of("app", "web"))
                    .addNewPort().withName("http").withPort(80).withNewTargetPort("http").withProtocol("TCP").endPort().endSpec().build()).create();
            api.discovery().v1().endpointSlices().resource(slice(a, true, b, true)).create();
            awaitMaps(pinDir, f -> backends(f).equals(List.of("10.1.2.5:8080", "10.1.2.6:8080")));

            // The slice controller takes b out (it is terminating): the next packet no longer goes there.
            api.discovery().v1().endpointSlices().resource(slice(a, true, b, false)).update();
            awaitMaps(pinDir, f -> backends(f).equals(List.of("10.1.2.5:8080")));

            // The Service's port changes, then the Service goes.
            api.services().inNamespace("shop").withName("web").edit(s -> { s.getSpec().getPorts().getFirst().setPort(8000); return s; });
            awaitMaps(pinDir, f -> f.stream().anyMatch(x -> x.port() == 8000) && f.stream().noneMatch(x -> x.port() == 80));
            api.services().inNamespace("shop").withName("web").delete();
            awaitMaps(pinDir, List::isEmpty);
            agentThread.interrupt();
            agentThread.join(10_000);
            lb.close();
        } finally {
            if (agentThread != null) {
                agentThread.interrupt();
            }
            System.clearProperty("kubernetes.master");
            System.clearProperty("kubernetes.auth.tryKubeConfig");
            System.clearProperty("kubernetes.auth.tryServiceAccount");
            server.destroy();
            BpfFs.removeTree(pinDir);
        }
    }

    /**
     * Two agents in Kubernetes mode, each with its own pinned maps and its own connection to the API server:
     * pods written through the API get the same identities in both nodes' ipcache, the numbers of the
     * CiliumIdentity objects the agents created there.
     */
    @Test
    void twoAgentsGiveThePodsTheSameIdentitiesThroughCiliumIdentityObjects() throws Exception {
        Privileged.require();
        java.util.logging.Logger.getLogger("io.fabric8.mockwebserver").setLevel(java.util.logging.Level.WARNING);
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(List.of()), false);
        server.init();
        System.setProperty("kubernetes.master", server.url("/"));
        System.setProperty("kubernetes.auth.tryKubeConfig", "false");
        System.setProperty("kubernetes.auth.tryServiceAccount", "false");
        Path stateDir = java.nio.file.Files.createTempDirectory("sluice-k8s-ids");
        List<Path> pinDirs = List.of(BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT).resolve(Names.unique("sluice-k8s-a")),
                BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT).resolve(Names.unique("sluice-k8s-b")));
        List<Thread> agents = new java.util.ArrayList<>();
        List<AutoCloseable> open = new java.util.ArrayList<>();
        try (KubernetesClient api = server.createClient()) {
            for (int n = 0; n < 2; n++) {
                String node = "node-" + (n + 1);
                ClusterSource source = ClusterSource.open("kubernetes", "k8s", node);
                open.add(source);
                var layout = new dev.sluice.agent.api.ClusterLayout("k8s", stateDir).node(node);
                var identities = dev.sluice.agent.api.Identities.provided("kubernetes", layout).orElseThrow();
                var datapath = new dev.sluice.agent.policy.PolicyDatapath(pinDirs.get(n), 4096 * 16);
                var policy = new dev.sluice.agent.policy.PolicySubsystem(node,
                        new dev.sluice.agent.policy.PolicyAgent(node, identities, datapath), datapath);
                open.add(policy::close);
                Agent agent = new Agent(source, List.of(policy), report -> { });
                agents.add(Thread.ofPlatform().name("agent-" + node).start(() -> {
                    try {
                        agent.run();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
            }
            api.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("shop").endMetadata().build()).create();
            api.pods().resource(new PodBuilder(pod("web-a", "10.1.2.5")).editSpec().withNodeName("node-3").endSpec().build()).create();
            api.pods().resource(new PodBuilder(pod("db-a", "10.1.2.7")).editMetadata().withLabels(Map.of("app", "db")).endMetadata()
                    .editSpec().withNodeName("node-3").endSpec().build()).create();

            Map<String, Integer> first = awaitIpcache(pinDirs.get(0), Set.of("10.1.2.5", "10.1.2.7"));
            Map<String, Integer> second = awaitIpcache(pinDirs.get(1), Set.of("10.1.2.5", "10.1.2.7"));
            assertEquals(first, second, "both nodes number the pods alike");
            assertNotEquals(first.get("10.1.2.5"), first.get("10.1.2.7"));
            // The numbers are those of the cluster's CiliumIdentity objects, labels and all.
            var objects = api.genericKubernetesResources(new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
                    .withGroup("cilium.io").withVersion("v2").withKind("CiliumIdentity").withPlural("ciliumidentities")
                    .withNamespaced(false).build()).list().getItems();
            for (var e : Map.of("10.1.2.5", "web", "10.1.2.7", "db").entrySet()) {
                var o = objects.stream().filter(x -> x.getMetadata().getName().equals(Integer.toString(first.get(e.getKey())))).findFirst()
                        .orElseThrow(() -> new AssertionError("no CiliumIdentity " + first.get(e.getKey()) + " among " + objects));
                assertEquals(e.getValue(), ((Map<?, ?>) o.getAdditionalProperties().get("security-labels")).get("k8s:app"));
            }
        } finally {
            agents.forEach(Thread::interrupt);
            for (Thread t : agents) {
                t.join(10_000);
            }
            for (AutoCloseable c : open) {
                c.close();
            }
            System.clearProperty("kubernetes.master");
            System.clearProperty("kubernetes.auth.tryKubeConfig");
            System.clearProperty("kubernetes.auth.tryServiceAccount");
            server.destroy();
            pinDirs.forEach(BpfFs::removeTree);
        }
    }

    /** The identities of {@code ips} in a node's pinned ipcache, once all are there. */
    private static Map<String, Integer> awaitIpcache(Path pinDir, Set<String> ips) throws InterruptedException {
        Map<String, Integer> found = new HashMap<>();
        for (int i = 0; i < 200; i++) {
            found.clear();
            try (var map = dev.sluice.libbpf.BpfMap.openPinned(pinDir.resolve("maps").resolve("ipcache"))) {
                map.typed(dev.sluice.libbpf.Codecs.lpm(dev.sluice.libbpf.Codecs.ipv4()), dev.sluice.datapath.policy.PolicyStructs.IpcacheValue.CODEC)
                        .entries().forEach((k, v) -> found.put(k.data().getHostAddress(), v.identity()));
            } catch (RuntimeException e) {
                // not pinned yet
            }
            if (found.keySet().containsAll(ips)) {
                Map<String, Integer> out = new HashMap<>();
                ips.forEach(ip -> out.put(ip, found.get(ip)));
                return out;
            }
            Thread.sleep(100);
        }
        fail("the ipcache of " + pinDir + " did not get " + ips + " in 20 s: " + found);
        return Map.of();
    }

    private static Pod pod(String name, String ip) {
        return new PodBuilder().withNewMetadata().withNamespace("shop").withName(name).withLabels(Map.of("app", "web")).endMetadata()
                .withNewSpec().withNodeName("node-2").addNewContainer().withName("app").withImage("echo")
                .addNewPort().withName("http").withContainerPort(8080).endPort().endContainer().endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip).addNewCondition().withType("Ready").withStatus("True").endCondition()
                .endStatus().build();
    }

    private static EndpointSlice slice(Pod a, boolean aReady, Pod b, boolean bReady) {
        var s = new EndpointSliceBuilder().withNewMetadata().withNamespace("shop").withName("web-x1").addToLabels("kubernetes.io/service-name", "web")
                .endMetadata().withAddressType("IPv4").addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
        for (var e : Map.of(a, aReady, b, bReady).entrySet()) {
            s.addNewEndpoint().withAddresses(e.getKey().getStatus().getPodIP()).withNewConditions().withReady(e.getValue()).endConditions()
                    .withNewTargetRef().withKind("Pod").withNamespace("shop").withName(e.getKey().getMetadata().getName()).endTargetRef().endEndpoint();
        }
        return s.build();
    }

    private static List<String> backends(List<Frontend> frontends) {
        return frontends.stream().filter(f -> f.address().equals("10.96.0.10") && f.port() == 80)
                .flatMap(f -> f.backends().stream()).map(x -> x.address() + ":" + x.port()).sorted().toList();
    }

    /** Reads the node's pinned LB maps (as `sluice service list` does) until they are as wanted. */
    private static void awaitMaps(Path pinDir, Predicate<List<Frontend>> wanted) throws InterruptedException {
        List<Frontend> last = List.of();
        for (int i = 0; i < 200; i++) {
            List<dev.sluice.libbpf.BpfMap> opened = new java.util.ArrayList<>();
            try {
                last = LbMapWriter.read(LbMaps.of(name -> {
                    var map = dev.sluice.libbpf.BpfMap.openPinned(pinDir.resolve("maps").resolve(name));
                    opened.add(map);
                    return map;
                }));
            } finally {
                opened.forEach(dev.sluice.libbpf.BpfMap::close);
            }
            if (wanted.test(last)) {
                return;
            }
            Thread.sleep(100);
        }
        fail("the LB maps did not get there in 20 s: " + last.stream().map(f -> f.address() + ":" + f.port() + " -> "
                + f.backends().stream().map(Backend::key).toList()).toList());
    }
}
