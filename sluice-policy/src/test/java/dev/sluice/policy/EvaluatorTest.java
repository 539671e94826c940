package dev.sluice.policy;

import static dev.sluice.model.Protocol.TCP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sluice.model.Protocol;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the scenario table does not show: reasons, settings, warnings, and the pieces the evaluator stands on. */
class EvaluatorTest {
    @TempDir
    Path dir;

    private final Cluster cluster = new Cluster();
    private final ReferenceEvaluator evaluator = ReferenceEvaluator.kubernetesDefaults();

    @Test
    void theLocalHostIsAPeerLikeAnyOtherWhenSoConfigured() {
        PolicySet policies = cluster.policies(dir, "p.yaml", ScenarioTest.API_FROM_FRONT);
        Decision always = evaluator.decide(policies, cluster.pod("prod/api"), Direction.INGRESS, cluster.peer("host"), TCP, 50051);
        assertTrue(always.allowed());
        assertTrue(always.reason().contains("allow-localhost"), always.reason());

        Decision byPolicy = new ReferenceEvaluator(ReferenceEvaluator.LocalHost.BY_POLICY)
                .decide(policies, cluster.pod("prod/api"), Direction.INGRESS, cluster.peer("host"), TCP, 50051);
        assertEquals("DENY (Policy denied, 133): CiliumNetworkPolicy prod/api-from-front spec.endpointSelector",
                byPolicy.toString());
    }

    @Test
    void anL3OnlyRuleAdmitsEveryProtocolAndAPortRuleOnlyWhatItNames() {
        PolicySet policies = cluster.policies(dir, "p.yaml", """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: api-in, namespace: prod}
                spec:
                  endpointSelector: {matchLabels: {app: api}}
                  ingress:
                  - fromEndpoints: [{matchLabels: {app: client}}]
                  - fromEndpoints: [{matchLabels: {app: web}}]
                    toPorts: [{ports: [{port: "7777", protocol: ANY}]}]
                """);
        Endpoint api = cluster.pod("prod/api");
        Peer client = cluster.pod("prod/client");
        Peer web = cluster.pod("prod/web");
        for (int proto : new int[] {1, 47, 253}) {
            assertTrue(evaluator.decideIp(policies, api, Direction.INGRESS, client, proto, 0).allowed(), "L3-only allows protocol " + proto);
            Decision d = evaluator.decideIp(policies, api, Direction.INGRESS, web, proto, 0);
            assertEquals(133, d.dropReasonCode(), "a port rule does not name protocol " + proto);
        }
        assertTrue(evaluator.decideIp(policies, api, Direction.INGRESS, web, 132, 7777).allowed(), "ANY covers SCTP");
        assertFalse(evaluator.decideIp(policies, api, Direction.INGRESS, web, 132, 7778).allowed());
        assertEquals(Protocol.SCTP, ReferenceEvaluator.transport(132));
        // Port 0, which a packet may carry: no numbered port names it, an L3-only rule still admits it.
        assertFalse(evaluator.decideIp(policies, api, Direction.INGRESS, web, 6, 0).allowed());
        assertTrue(evaluator.decideIp(policies, api, Direction.INGRESS, client, 6, 0).allowed());
    }

    @Test
    void aDenyRuleNamingTheHostWinsOverAllowLocalhost() {
        PolicySet policies = cluster.policies(dir, "p.yaml", """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: no-host, namespace: prod}
                spec:
                  endpointSelector: {}
                  ingressDeny:
                  - fromEntities: [host]
                """);
        Decision decision = evaluator.decide(policies, cluster.pod("prod/api"), Direction.INGRESS, cluster.peer("host"), TCP, 80);
        assertEquals(181, decision.dropReasonCode());
        assertEquals(Decision.POLICY_DENIED_BY_DENYLIST, decision.reason());
    }

    @Test
    void aConnectionNeedsTheClientsEgressAndTheServersIngress() {
        PolicySet policies = cluster.policies(dir, "p.yaml", ScenarioTest.CLIENT_TO_API);
        ConnectionDecision allowed = evaluator.decideConnection(policies, cluster.pod("prod/client"), cluster.pod("prod/api"), TCP, 50051);
        assertTrue(allowed.allowed());
        assertEquals("spec.ingress[0]", allowed.deciding().rule());

        ConnectionDecision wrongPort = evaluator.decideConnection(policies, cluster.pod("prod/client"), cluster.pod("prod/api"), TCP, 8080);
        assertFalse(wrongPort.allowed());
        assertEquals(wrongPort.egress(), wrongPort.deciding());
        assertTrue(wrongPort.ingress().allowed());

        ConnectionDecision wrongClient = evaluator.decideConnection(policies, cluster.pod("prod/web"), cluster.pod("prod/api"), TCP, 50051);
        assertEquals("CiliumNetworkPolicy prod/api-in", wrongClient.deciding().policy().toString());
    }

    @Test
    void reasonsSayWhyTrafficPasses() {
        PolicySet policies = cluster.policies(dir, "p.yaml", ScenarioTest.EMPTY_RULES + "---\n" + ScenarioTest.L7);
        Decision unselected = evaluator.decide(policies, cluster.pod("prod/client"), Direction.INGRESS, cluster.peer("world"), TCP, 80);
        assertEquals("no policy selects this endpoint for ingress", unselected.reason());
        assertNull(unselected.policy());

        Decision additive = evaluator.decide(policies, cluster.pod("prod/db"), Direction.INGRESS, cluster.peer("world"), TCP, 80);
        assertTrue(additive.reason().contains("enableDefaultDeny.ingress to false"), additive.reason());

        Decision l7 = evaluator.decideProxied(PolicySet.of(policies.policies().getLast()), cluster.pod("prod/web"),
                cluster.pod("prod/api"), 8080);
        assertTrue(l7.reason().contains("L7 rules"), l7.reason());
        Decision plain = evaluator.decide(PolicySet.of(policies.policies().getLast()), cluster.pod("prod/web"),
                Direction.INGRESS, cluster.pod("prod/db"), TCP, 8080);
        assertFalse(plain.reason().contains("L7"), plain.reason());
    }

    @Test
    void l7RulesAreKeptAsWrittenAndTheRuleMarked() {
        PolicySet policies = cluster.policies(dir, "p.yaml", ScenarioTest.L7);
        List<PeerRule> rules = policies.policies().getFirst().rules().getFirst().peerRules();
        assertTrue(rules.get(0).hasL7());
        assertFalse(rules.get(1).hasL7());
        assertEquals("{\"http\":[{\"method\":\"GET\",\"path\":\"/health\"}]}",
                rules.get(0).toPorts().getFirst().l7Rules().toString());
    }

    @Test
    void aNamespacedSelectorNamingAnotherNamespaceIsConfinedAndWarnedAbout() {
        PolicySet policies = cluster.policies(dir, "p.yaml", """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: elsewhere, namespace: prod}
                spec:
                  endpointSelector:
                    matchLabels: {k8s:io.kubernetes.pod.namespace: staging, app: web}
                  ingress: [{}]
                """);
        assertEquals(1, cluster.warnings.size());
        assertTrue(cluster.warnings.getFirst().startsWith(dir.resolve("p.yaml") + ", document 1 (CiliumNetworkPolicy"
                + " prod/elsewhere): field spec.endpointSelector.matchLabels.k8s:io.kubernetes.pod.namespace: names"
                + " namespace staging"), cluster.warnings.getFirst());
        assertFalse(evaluator.decide(policies, cluster.pod("prod/web"), Direction.INGRESS, cluster.peer("world"), TCP, 80).allowed());
        assertTrue(evaluator.decide(policies, cluster.pod("staging/web"), Direction.INGRESS, cluster.peer("world"), TCP, 80).allowed());
    }

    @Test
    void reservedSelectorsAreNotConfinedToTheNamespace() {
        PolicySet policies = cluster.policies(dir, "p.yaml", """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: from-nodes, namespace: prod}
                spec:
                  endpointSelector: {}
                  ingress:
                  - fromEndpoints:
                    - matchLabels: {reserved:remote-node: ""}
                """);
        assertTrue(evaluator.decide(policies, cluster.pod("prod/web"), Direction.INGRESS, cluster.peer("remote-node"), TCP, 80).allowed());
        assertFalse(evaluator.decide(policies, cluster.pod("prod/web"), Direction.INGRESS, cluster.peer("health"), TCP, 80).allowed());
    }

    @Test
    void aWorldWithoutAnAddressIsCoveredOnlyByAllOfIpv4() {
        PolicySet policies = cluster.policies(dir, "p.yaml", """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: out, namespace: prod}
                spec:
                  endpointSelector: {matchLabels: {app: web}}
                  egress:
                  - toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.0.0.0/8]}]
                ---
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: out, namespace: staging}
                spec:
                  endpointSelector: {matchLabels: {app: web}}
                  egress:
                  - toCIDR: [1.0.0.0/8, "::/0"]
                """);
        assertTrue(evaluator.decide(policies, cluster.pod("prod/web"), Direction.EGRESS, cluster.peer("world"), TCP, 80).allowed());
        assertFalse(evaluator.decide(policies, cluster.pod("prod/web"), Direction.EGRESS, cluster.peer("ip:10.0.0.1"), TCP, 80).allowed());
        assertFalse(evaluator.decide(policies, cluster.pod("staging/web"), Direction.EGRESS, cluster.peer("world"), TCP, 80).allowed());
        assertTrue(evaluator.decide(policies, cluster.pod("staging/web"), Direction.EGRESS, cluster.peer("ip:1.2.3.4"), TCP, 80).allowed());
    }

    @Test
    void decisionsRefuseNonsense() {
        assertThrows(IllegalArgumentException.class, () -> evaluator.decide(PolicySet.EMPTY, cluster.pod("prod/web"),
                Direction.INGRESS, cluster.peer("world"), Protocol.TCP, 0));
        assertThrows(IllegalArgumentException.class, () -> new Peer.Reserved(ReservedIdentity.UNKNOWN));
        assertThrows(IllegalArgumentException.class, () -> Peer.External.of("010.0.0.1"));
        assertThrows(IllegalArgumentException.class, () -> new Decision(Verdict.DENY, "because", null, null));
    }

    @Test
    void cidrsAreReadStrictlyAndNeverResolved() throws Exception {
        assertEquals("10.0.0.0/8", Cidr.parse("10.1.2.3/8", false).toString());
        assertTrue(Cidr.hasHostBits("10.1.2.3/8"));
        assertFalse(Cidr.hasHostBits("10.0.0.0/8"));
        assertThrows(IllegalArgumentException.class, () -> Cidr.parse("10.0.0.0/08", false));
        assertThrows(IllegalArgumentException.class, () -> Cidr.parse("10.0.0.1", false));
        assertThrows(IllegalArgumentException.class, () -> Cidr.parse("localhost/8", false));
        assertEquals(128, Cidr.parse("2001:db8::1", true).prefixLength());
        Cidr v6 = Cidr.parse("::/0", false);
        assertFalse(v6.contains(InetAddress.getByName("1.2.3.4")));
        assertTrue(Cidr.parse("0.0.0.0/0", false).contains(InetAddress.getByName("1.2.3.4")));
    }

    @Test
    void labelRequirementsFollowKubernetes() {
        Labels labels = Labels.of(Label.k8s("app", "web"));
        LabelKey app = LabelKey.parse("app");
        LabelKey tier = LabelKey.parse("k8s:tier");
        assertTrue(new Requirement(tier, Requirement.Operator.NOT_IN, List.of("front")).matches(labels));
        assertTrue(new Requirement(tier, Requirement.Operator.DOES_NOT_EXIST, List.of()).matches(labels));
        assertFalse(new Requirement(app, Requirement.Operator.NOT_IN, List.of("web")).matches(labels));
        assertTrue(Requirement.equal(app, "web").matches(labels));
        assertFalse(Requirement.equal(new LabelKey(Label.RESERVED, "app"), "web").matches(labels));
        assertTrue(EndpointSelector.ALL.matches(ReservedIdentity.WORLD.identity().labels()));
    }
}
