package dev.sluice.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which pods an ipBlock sets apart from the others with their labels (Cluster: prod/web .10, prod/web-2 .17). */
class PeerIdentitiesTest {
    @TempDir
    Path dir;

    private static String egressTo(String cidr) {
        return """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: p, namespace: prod}
                spec:
                  podSelector: {matchLabels: {app: client}}
                  policyTypes: [Egress]
                  egress:
                  - to:
                    - ipBlock: {cidr: %s}
                """.formatted(cidr);
    }

    @Test
    void aReplicaCoveredAloneGetsAnIdentityOfItsOwn() {
        Cluster cluster = new Cluster();
        Map<Endpoint, Identity> split = PeerIdentities.split(cluster.policies(dir, "p.yaml", egressTo("10.244.0.10/32")),
                cluster.pods.values(), cluster.allocator);
        Endpoint web = cluster.pod("prod/web");
        assertEquals(web.identity().id(), cluster.pod("prod/web-2").identity().id(), "the replicas share their label identity");
        assertEquals(java.util.Set.of(web), split.keySet(), "only the covered replica is set apart: " + split);
        Identity own = split.get(web);
        assertTrue(own.isLocal(), own.toString());
        assertNotEquals(web.identity().id(), own.id());
        assertTrue(own.labels().contains(new Label(PeerIdentities.SOURCE, "ipblock", "10.244.0.10/32 (pods too)")), own.toString());
        assertTrue(own.labels().contains(Label.k8s("app", "web")), "it keeps the pod's labels, which selectors match: " + own);
    }

    @Test
    void identitiesCoveredAlikeAreNotSplit() {
        Cluster cluster = new Cluster();
        // Covers every pod: each identity's pods are all covered, so no pod needs an identity of its own.
        assertEquals(Map.of(), PeerIdentities.split(cluster.policies(dir, "p.yaml", egressTo("10.244.0.0/24")),
                cluster.pods.values(), cluster.allocator));
    }

    @Test
    void ciliumCidrsSplitNothing() {
        Cluster cluster = new Cluster();
        PolicySet policies = cluster.policies(dir, "p.yaml", """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: c, namespace: prod}
                spec:
                  endpointSelector: {}
                  egress:
                  - toCIDR: [10.244.0.10/32]
                """);
        assertEquals(Map.of(), PeerIdentities.split(policies, cluster.pods.values(), cluster.allocator));
    }
}
