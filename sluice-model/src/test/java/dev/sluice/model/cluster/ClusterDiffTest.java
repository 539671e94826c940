package dev.sluice.model.cluster;

import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.ObjectRef;
import dev.sluice.model.Protocol;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.TargetPort;
import dev.sluice.model.cluster.ClusterEvent.Deleted;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterEvent.Upserted;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClusterDiffTest {
    private static final ClusterView.Node NODE = new ClusterView.Node("node-1", "10.0.0.1", "10.1.1.0/24", "10.1.1.1");

    private static ClusterView.Pod pod(String name, String ip, boolean ready) {
        return new ClusterView.Pod("default", name, "node-1", ip, "veth-" + name, "", Map.of("app", "web"), List.of(), true, ready);
    }

    private static ServiceSpec service(String name) {
        return new ServiceSpec(new ObjectRef("default", name), "ClusterIP", null,
                List.of(new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)), Map.of("app", "web"), false, null);
    }

    private static ClusterView view(List<ClusterView.Pod> pods, List<ServiceSpec> services, Map<String, String> ips) {
        return new ClusterView(List.of(NODE), List.of(new NamespaceSpec("default", Map.of())), pods, services, ips, List.of());
    }

    @Test
    void anUnchangedViewHasNoEvents() {
        ClusterView v = view(List.of(pod("a", "10.1.1.10", true)), List.of(service("web")), Map.of("default/web", "10.96.0.10"));
        assertEquals(List.of(), ClusterDiff.between(v, v));
    }

    @Test
    void eachObjectIsReportedOnceAsAddedUpdatedOrDeleted() {
        ClusterView before = view(List.of(pod("a", "10.1.1.10", true), pod("b", "10.1.1.11", true)), List.of(service("web")),
                Map.of("default/web", "10.96.0.10"));
        ClusterView after = view(List.of(pod("a", "10.1.1.10", false), pod("c", "10.1.1.12", true)), List.of(service("web")),
                Map.of("default/web", "10.96.0.10"));
        List<ClusterEvent> events = ClusterDiff.between(before, after);
        assertEquals(Set.of(new Upserted(Kind.POD, "default/a"), new Upserted(Kind.POD, "default/c"), new Deleted(Kind.POD, "default/b")),
                Set.copyOf(events));
        assertEquals(3, events.size());
    }

    @Test
    void aServiceWhoseClusterIpChangedIsUpdated() {
        ClusterView before = view(List.of(), List.of(service("web")), Map.of("default/web", "10.96.0.10"));
        ClusterView after = view(List.of(), List.of(service("web")), Map.of("default/web", "10.96.0.11"));
        assertEquals(List.of(new Upserted(Kind.SERVICE, "default/web")), ClusterDiff.between(before, after));
    }

    @Test
    void aChangeSaysWhichKindsItTouches() {
        ClusterChange pods = new ClusterChange(2, List.of(new Upserted(Kind.POD, "default/a")), ClusterView.empty());
        assertTrue(pods.touches(Kind.POD, Kind.SERVICE));
        assertFalse(pods.touches(Kind.OBJECT));
        ClusterChange synced = pods.resync();
        assertTrue(synced.touches(Kind.OBJECT), "a resync touches every kind");
        assertEquals(2, synced.version());
    }
}
