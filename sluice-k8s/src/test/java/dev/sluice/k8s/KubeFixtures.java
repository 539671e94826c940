package dev.sluice.k8s;

import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.fail;

/** Kubernetes objects as a cluster holds them, and a mock API server in CRUD mode to hold them. */
final class KubeFixtures {
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

    private KubeFixtures() {
    }

    /** fabric8's API server stand-in in CRUD mode: objects written are kept, listed and watched. */
    static KubernetesMockServer crudServer() {
        // It logs every request at INFO through java.util.logging.
        QUIET.setLevel(java.util.logging.Level.WARNING);
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(List.of()), false);
        server.init();
        return server;
    }

    static Namespace namespace(String name, Map<String, String> labels) {
        return new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata().build();
    }

    static Node node(String name, String address, String podCidr) {
        return new NodeBuilder().withNewMetadata().withName(name).endMetadata()
                .withNewSpec().withPodCIDR(podCidr).endSpec()
                .withNewStatus().addNewAddress().withType("InternalIP").withAddress(address).endAddress().endStatus().build();
    }

    /** A pod of Deployment {@code deployment} (through its ReplicaSet), running on {@code node} with {@code ip}. */
    static Pod pod(String ns, String deployment, String suffix, String node, String ip, Map<String, String> labels, boolean ready) {
        String hash = "5d8f9c";
        Map<String, String> all = new HashMap<>(labels);
        all.put("pod-template-hash", hash);
        return new PodBuilder().withNewMetadata().withNamespace(ns).withName(deployment + "-" + hash + "-" + suffix).withLabels(all)
                .addNewOwnerReference().withApiVersion("apps/v1").withKind("ReplicaSet").withName(deployment + "-" + hash)
                .withController(true).withUid("rs-uid").endOwnerReference().endMetadata()
                .withNewSpec().withNodeName(node).addNewContainer().withName("app").withImage("echo")
                .addNewPort().withName("http").withContainerPort(8080).withProtocol("TCP").endPort().endContainer().endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip)
                .addNewCondition().withType("Ready").withStatus(ready ? "True" : "False").endCondition().endStatus().build();
    }

    static Service service(String ns, String name, String clusterIp, Map<String, String> selector) {
        return new ServiceBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata()
                .withNewSpec().withClusterIP(clusterIp).withSelector(selector)
                .addNewPort().withName("http").withPort(80).withNewTargetPort("http").withProtocol("TCP").endPort().endSpec().build();
    }

    /** The EndpointSlice the controller would write for {@code service}: the pods, ready or not. */
    static EndpointSlice slice(String ns, String service, Map<Pod, Boolean> pods) {
        var b = new EndpointSliceBuilder().withNewMetadata().withNamespace(ns).withName(service + "-abcde")
                .addToLabels("kubernetes.io/service-name", service).endMetadata().withAddressType("IPv4")
                .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
        pods.forEach((p, ready) -> b.addNewEndpoint().withAddresses(p.getStatus().getPodIP())
                .withNewConditions().withReady(ready).withServing(ready).withTerminating(false).endConditions()
                .withNewTargetRef().withKind("Pod").withNamespace(ns).withName(p.getMetadata().getName()).endTargetRef()
                .withNodeName(p.getSpec().getNodeName()).endEndpoint());
        return b.build();
    }

    /** An object of one of the generic kinds, with {@code spec}. */
    static GenericKubernetesResource other(WatchedKind kind, String ns, String name, Map<String, Object> spec) {
        var b = new GenericKubernetesResourceBuilder().withApiVersion(kind.apiVersion()).withKind(kind.kind())
                .withNewMetadata().withName(name).withNamespace(kind.clusterScoped() ? null : ns).endMetadata();
        GenericKubernetesResource r = b.build();
        r.setAdditionalProperty("spec", spec);
        return r;
    }

    static void create(KubernetesClient client, WatchedKind kind, GenericKubernetesResource r) {
        var op = client.genericKubernetesResources(kind.context());
        if (kind.clusterScoped()) {
            op.resource(r).create();
        } else {
            op.inNamespace(r.getMetadata().getNamespace()).resource(r).create();
        }
    }

    static void update(KubernetesClient client, WatchedKind kind, GenericKubernetesResource r) {
        var op = client.genericKubernetesResources(kind.context());
        if (kind.clusterScoped()) {
            op.resource(r).update();
        } else {
            op.inNamespace(r.getMetadata().getNamespace()).resource(r).update();
        }
    }

    static void delete(KubernetesClient client, WatchedKind kind, GenericKubernetesResource r) {
        var op = client.genericKubernetesResources(kind.context());
        if (kind.clusterScoped()) {
            op.withName(r.getMetadata().getName()).delete();
        } else {
            op.inNamespace(r.getMetadata().getNamespace()).withName(r.getMetadata().getName()).delete();
        }
    }

    /** Changes and their events, read from a source until its view is as {@code done} wants (or 20 s pass). */
    record Followed(ClusterView view, List<ClusterEvent> events, List<ClusterChange> changes) {
    }

    static Followed await(ClusterSource source, Predicate<ClusterView> done) throws InterruptedException {
        List<ClusterEvent> events = new ArrayList<>();
        List<ClusterChange> changes = new ArrayList<>();
        long deadline = System.nanoTime() + 20_000_000_000L;
        ClusterView last = null;
        while (System.nanoTime() < deadline) {
            Optional<ClusterChange> change = source.next(100);
            if (change.isPresent()) {
                changes.add(change.get());
                events.addAll(change.get().events());
                last = change.get().view();
                if (done.test(last)) {
                    return new Followed(last, events, changes);
                }
            }
        }
        fail("the source's view did not get there in 20 s; last view " + last + ", events " + events
                + (source instanceof KubernetesClusterSource k ? ", informers " + k.describe() : ""));
        return null;
    }

    /**
     * Stops a mock API server after a test. fabric8's MockWebServer gives up waiting for watch connections the
     * informers still hold (Vert.x closes them asynchronously) with "Unable to close MockWebServer": that is the
     * fixture's teardown, after every assertion ran, not something the test checks, so it is reported, not thrown.
     */
    static void stop(io.fabric8.kubernetes.client.server.mock.KubernetesMockServer server) {
        try {
            server.destroy();
        } catch (IllegalStateException e) {
            System.out.println("[mock API server] " + e.getMessage() + " (watch connections still open at teardown)");
        }
    }
}
