package dev.sluice.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static dev.sluice.model.Protocol.TCP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PolicyExplainerTest {
    @TempDir
    Path dir;

    private static final String POLICIES = """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: api-from-web, namespace: prod}
            spec:
              podSelector: {matchLabels: {app: api}}
              ingress:
              - from:
                - podSelector: {matchLabels: {app: web}}
                ports: [{port: 50051}]
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: client-deny, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: client}}
              egressDeny:
              - toEndpoints: [{matchLabels: {app: api}}]
            """;

    @Test
    void namesWhoSelectsEachSideAndTheRuleThatDecides() {
        Cluster cluster = new Cluster();
        PolicySet policies = cluster.policies(dir, "p.yaml", POLICIES);
        PolicyExplainer explainer = new PolicyExplainer(ReferenceEvaluator.kubernetesDefaults());

        PolicyExplainer.Explanation allowed = explainer.explain(policies, cluster.pod("prod/web"), cluster.pod("prod/api"), TCP, 50051);
        assertTrue(allowed.allowed());
        List<String> lines = allowed.lines();
        assertEquals("egress of " + cluster.pod("prod/web") + ":", lines.get(1));
        assertEquals("  selected by no policy", lines.get(2));
        assertTrue(lines.contains("  selected by NetworkPolicy prod/api-from-web spec.podSelector (default deny for ingress, 1 allow rule(s))"), lines.toString());
        assertTrue(lines.contains("  ALLOW: allowed by NetworkPolicy prod/api-from-web spec.ingress[0]"), lines.toString());
        assertEquals("ALLOWED", lines.getLast());

        PolicyExplainer.Explanation otherPort = explainer.explain(policies, cluster.pod("prod/web"), cluster.pod("prod/api"), TCP, 8080);
        assertFalse(otherPort.allowed());
        assertTrue(otherPort.lines().contains("  DROP (133 Policy denied): no rule allows it; default deny of NetworkPolicy prod/api-from-web spec.podSelector"),
                otherPort.lines().toString());

        PolicyExplainer.Explanation denied = explainer.explain(policies, cluster.pod("prod/client"), cluster.pod("prod/api"), TCP, 50051);
        assertTrue(denied.lines().contains("  selected by CiliumNetworkPolicy prod/client-deny spec.endpointSelector (default deny for egress, 0 allow rule(s), 1 deny rule(s))"),
                denied.lines().toString());
        assertTrue(denied.lines().contains("  DROP (181 Policy denied by denylist): deny rule CiliumNetworkPolicy prod/client-deny spec.egressDeny[0]"),
                denied.lines().toString());

        PolicyExplainer.Explanation world = explainer.explain(policies, Peer.External.of("203.0.113.7"), cluster.pod("prod/api"), TCP, 50051);
        assertFalse(world.allowed());
        assertTrue(world.lines().contains("egress: 203.0.113.7 is not a pod of the cluster; no endpoint policy applies to it"), world.lines().toString());
    }
}
