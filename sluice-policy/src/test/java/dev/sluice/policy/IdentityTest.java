package dev.sluice.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Security identities: which labels count, stable numbers, the reserved ones, and CIDR identities. */
class IdentityTest {
    @TempDir
    Path dir;

    private static Labels web(String namespace, Map<String, String> extra) {
        Map<String, String> labels = new LinkedHashMap<>(Map.of("app", "web"));
        labels.putAll(extra);
        return EndpointLabels.of(namespace, labels, Map.of("env", "prod"));
    }

    @Test
    void labelsThatChangePerRolloutDoNotChangeTheIdentity() {
        IdentityAllocator allocator = new IdentityAllocator();
        Identity first = allocator.allocate(web("prod", Map.of("pod-template-hash", "7d9f")));
        Identity rolled = allocator.allocate(web("prod", Map.of("pod-template-hash", "5c4b", "controller-revision-hash",
                "abc", "pod-template-generation", "2")));
        assertEquals(first, rolled);
        assertFalse(first.labels().toString().contains("hash"), first.toString());
    }

    @Test
    void endpointLabelsAreThoseCiliumDerivesIdentitiesFrom() {
        Labels labels = EndpointLabels.of("prod", Map.of("app", "web"), Map.of("env", "prod"), "web-sa");
        assertEquals("[k8s:app=web,k8s:io.cilium.k8s.namespace.labels.env=prod,"
                + "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=prod,"
                + "k8s:io.cilium.k8s.policy.cluster=default,k8s:io.cilium.k8s.policy.serviceaccount=web-sa,"
                + "k8s:io.kubernetes.pod.namespace=prod]", labels.toString());
    }

    @Test
    void theNamespaceNameLabelIsTheNamespacesWhateverTheManifestSays() {
        Labels labels = EndpointLabels.of("prod", Map.of(), Map.of("kubernetes.io/metadata.name", "other"));
        assertTrue(labels.contains(Label.k8s("io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name", "prod")));
        assertFalse(labels.toString().contains("other"), labels.toString());
    }

    @Test
    void distinctLabelSetsGetNumbersFrom256InOrder() {
        IdentityAllocator allocator = new IdentityAllocator();
        assertEquals(256, allocator.allocate(web("prod", Map.of())).id());
        assertEquals(257, allocator.allocate(web("staging", Map.of())).id());
        assertEquals(258, allocator.allocate(web("prod", Map.of("version", "v2"))).id());
        assertEquals(256, allocator.allocate(web("prod", Map.of())).id());
        assertTrue(allocator.allocate(web("prod", Map.of())).isCluster());
    }

    @Test
    void namespaceLabelsArePartOfTheIdentity() {
        IdentityAllocator allocator = new IdentityAllocator();
        Identity prod = allocator.allocate(EndpointLabels.of("prod", Map.of("app", "web"), Map.of("env", "prod")));
        Identity relabelled = allocator.allocate(EndpointLabels.of("prod", Map.of("app", "web"), Map.of("env", "dr")));
        assertNotEquals(prod.id(), relabelled.id());
    }

    @Test
    void aSeededAllocatorKeepsTheSeedsAndFillsTheGaps() {
        Labels a = web("prod", Map.of());
        Labels b = web("staging", Map.of());
        IdentityAllocator seeded = new IdentityAllocator(Map.of(a, 300, b, 256));
        assertEquals(300, seeded.allocate(a).id());
        assertEquals(257, seeded.allocate(web("prod", Map.of("version", "v2"))).id());

        IdentityAllocator restarted = new IdentityAllocator(seeded.assignments());
        assertEquals(seeded.assignments(), restarted.assignments());
        assertEquals(List.of(256, 257, 300), List.copyOf(restarted.assignments().values()));
        assertEquals(258, restarted.allocate(web("other", Map.of())).id());
    }

    @Test
    void badSeedsAreRefused() {
        Labels a = web("prod", Map.of());
        Labels b = web("staging", Map.of());
        assertThrows(IllegalArgumentException.class, () -> new IdentityAllocator(Map.of(a, 42)));
        assertThrows(IllegalArgumentException.class, () -> new IdentityAllocator(Map.of(a, 70000)));
        assertThrows(IllegalArgumentException.class, () -> new IdentityAllocator(Map.of(a, 300, b, 300)));
        assertThrows(IllegalArgumentException.class,
                () -> new IdentityAllocator(Map.of(Labels.of(Label.reserved("host")), 300)));
        assertThrows(IllegalArgumentException.class, () -> new IdentityAllocator().allocate(Labels.of(Label.reserved("world"))));
    }

    @Test
    void reservedIdentitiesAreCiliums() {
        Map<String, Integer> expected = new LinkedHashMap<>();
        expected.put("unknown", 0);
        expected.put("host", 1);
        expected.put("world", 2);
        expected.put("unmanaged", 3);
        expected.put("health", 4);
        expected.put("init", 5);
        expected.put("remote-node", 6);
        expected.put("kube-apiserver", 7);
        expected.put("ingress", 8);
        expected.put("world-ipv4", 9);
        expected.put("world-ipv6", 10);
        Map<String, Integer> actual = new LinkedHashMap<>();
        for (ReservedIdentity reserved : ReservedIdentity.values()) {
            actual.put(reserved.label(), reserved.id());
            assertTrue(reserved.identity().isReserved());
        }
        assertEquals(expected, actual);
        assertEquals("[reserved:host]", ReservedIdentity.HOST.identity().labels().toString());
        assertTrue(ReservedIdentity.UNKNOWN.identity().labels().isEmpty());
    }

    @Test
    void cidrIdentitiesAreLocalOnePerDistinctCidr() {
        IdentityAllocator allocator = new IdentityAllocator();
        Identity first = allocator.allocate(Cidr.parse("10.0.0.0/8", false));
        Identity second = allocator.allocate(Cidr.parse("192.0.2.10", true));
        assertEquals(16777217, first.id());
        assertEquals((1 << 24) + 2, second.id());
        assertEquals(first, allocator.allocate(Cidr.parse("10.0.0.0/8", false)));
        assertTrue(first.isLocal());
        assertEquals("[cidr:10.0.0.0/8,reserved:world]", first.labels().toString());
        assertEquals("[cidr:192.0.2.10/32,reserved:world]", second.labels().toString());
        // Cluster numbering is separate.
        assertEquals(256, allocator.allocate(web("prod", Map.of())).id());
    }

    @Test
    void everyCidrPoliciesNameGetsAnIdentityInOrder() {
        Cluster cluster = new Cluster();
        PolicySet policies = cluster.policies(dir, "cidr.yaml", ScenarioTest.API_CIDR + "---\n" + ScenarioTest.NETPOL);
        Map<Cidr, Identity> identities = new IdentityAllocator().allocateCidrs(policies);
        assertEquals(List.of("10.0.0.0/8", "10.96.0.0/12", "192.0.2.10/32", "203.0.113.0/24", "203.0.113.128/25"),
                identities.keySet().stream().map(Cidr::toString).toList());
        assertEquals(List.of(16777217, 16777218, 16777219, 16777220, 16777221),
                identities.values().stream().map(Identity::id).toList());
    }

    @Test
    void podsOfOneLabelSetShareAnIdentity() {
        Cluster cluster = new Cluster();
        Endpoint other = Endpoint.of(cluster.allocator, "prod", "web-2", Map.of("app", "web", "tier", "front",
                "pod-template-hash", "0000"), Cluster.NAMESPACES.get("prod"), List.of());
        assertEquals(cluster.pod("prod/web").identity(), other.identity());
        assertNotEquals(cluster.pod("prod/web").identity(), cluster.pod("staging/web").identity());
    }
}
