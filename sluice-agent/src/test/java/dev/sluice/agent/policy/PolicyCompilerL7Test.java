package dev.sluice.agent.policy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.Protocol;
import dev.sluice.policy.Endpoint;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.PolicyParser;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.PolicyRef;
import dev.sluice.policy.ReferenceEvaluator;
import dev.sluice.policy.ReservedIdentity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The datapath's entries for a port with HTTP rules: the peer restricted by them has no direct allow (it falls to the
 * default deny), the node proxies (host, remote-node) are allowed on that port only, and a peer allowed without L7
 * rules keeps its allow.
 */
class PolicyCompilerL7Test {
    @Test
    void theL7PortAdmitsTheProxiesNotTheRestrictedPeer(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("p.yaml");
        Files.writeString(file, """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: web-l7, namespace: default}
                spec:
                  endpointSelector: {matchLabels: {app: web}}
                  ingress:
                  - fromEndpoints: [{matchLabels: {app: client}}]
                    toPorts:
                    - ports: [{port: "8080", protocol: TCP}]
                      rules: {http: [{method: GET}]}
                  - fromEndpoints: [{matchLabels: {app: partner}}]
                    toPorts:
                    - ports: [{port: "8080", protocol: TCP}]
                """);
        PolicySet set = PolicyParser.parseAll(ManifestReader.read(List.of(file)).others(), w -> { });
        IdentityAllocator allocator = new IdentityAllocator();
        List<ContainerPort> ports = List.of(new ContainerPort("http", 8080, Protocol.TCP), new ContainerPort("other", 9090, Protocol.TCP));
        Endpoint web = Endpoint.of(allocator, "default", "web", Map.of("app", "web"), Map.of(), ports);
        Endpoint client = Endpoint.of(allocator, "default", "client", Map.of("app", "client"), Map.of(), List.of());
        Endpoint partner = Endpoint.of(allocator, "default", "partner", Map.of("app", "partner"), Map.of(), List.of());
        RuleTable rules = new RuleTable();
        EndpointPolicy ep = new PolicyCompiler(ReferenceEvaluator.kubernetesDefaults(), rules)
                .compile(set, Map.of(web, 1), List.of(web, client, partner), Map.of()).getFirst();
        PolicyLookup lookup = new PolicyLookup(ep);
        int in = PolicyCompiler.index(dev.sluice.policy.Direction.INGRESS);
        int defaultRule = rules.id(new PolicyRef("CiliumNetworkPolicy", "default", "web-l7"), "spec.endpointSelector");

        PolicyLookup.Verdict direct = lookup.decide(in, client.identity().id(), 6, 8080);
        assertFalse(direct.allowed());
        assertEquals(133, direct.dropReason());
        assertEquals(defaultRule, direct.ruleId());
        assertTrue(lookup.decide(in, ReservedIdentity.REMOTE_NODE.id(), 6, 8080).allowed());
        assertFalse(lookup.decide(in, ReservedIdentity.REMOTE_NODE.id(), 6, 9090).allowed());
        assertTrue(lookup.decide(in, partner.identity().id(), 6, 8080).allowed());
        assertFalse(lookup.decide(in, partner.identity().id(), 6, 9090).allowed());
    }
}
