package dev.sluice.install;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import java.util.ArrayList;
import java.util.List;

/**
 * The agent's identity in the cluster and exactly what it may do: list and watch the kinds its informers follow
 * (sluice-k8s's WatchedKind), and keep CiliumIdentity objects (create to claim an identity, update to mark it unused,
 * delete to release it). Nothing is written elsewhere, so nothing else is granted.
 */
final class AgentRbac {
    static final List<String> WATCH = List.of("list", "watch");

    private AgentRbac() {
    }

    static List<HasMetadata> objects(InstallValues values) {
        var sa = new ServiceAccountBuilder().withNewMetadata().withName(Names.AGENT).withNamespace(values.namespace())
                .withLabels(Names.labels(Names.AGENT)).endMetadata().build();
        var role = new ClusterRoleBuilder().withNewMetadata().withName(Names.AGENT).withLabels(Names.labels(Names.AGENT)).endMetadata()
                .withRules(rules(values)).build();
        var binding = new ClusterRoleBindingBuilder().withNewMetadata().withName(Names.AGENT).withLabels(Names.labels(Names.AGENT)).endMetadata()
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole").withName(Names.AGENT).endRoleRef()
                .addNewSubject().withKind("ServiceAccount").withName(Names.AGENT).withNamespace(values.namespace()).endSubject()
                .build();
        return List.of(sa, role, binding);
    }

    static List<PolicyRule> rules(InstallValues values) {
        List<PolicyRule> rules = new ArrayList<>();
        rules.add(rule("", List.of("pods", "services", "namespaces", "nodes"), WATCH));
        rules.add(rule("discovery.k8s.io", List.of("endpointslices"), WATCH));
        rules.add(rule("networking.k8s.io", List.of("networkpolicies"), WATCH));
        rules.add(rule(CiliumCrds.GROUP, List.of("ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"), WATCH));
        // The agent's source informs on these whatever serviceMesh says (a kind the server does not serve, its CRD
        // not installed, is taken as empty; a forbidden one would be an error).
        rules.add(rule(CiliumCrds.GROUP, List.of("ciliumenvoyconfigs", "ciliumclusterwideenvoyconfigs"), WATCH));
        rules.add(rule("gateway.networking.k8s.io", List.of("httproutes", "grpcroutes"), WATCH));
        // Cilium's "crd" identity mode: list to learn the numbers taken, create to claim one, update to mark one
        // unused, delete to release it.
        rules.add(rule(CiliumCrds.GROUP, List.of("ciliumidentities"), List.of("list", "watch", "create", "update", "delete")));
        // Each agent patches an annotation of its own Node (its WireGuard public key, network.sluice.dev/wg-pub-key).
        rules.add(rule("", List.of("nodes"), List.of("patch")));
        return rules;
    }

    private static PolicyRule rule(String group, List<String> resources, List<String> verbs) {
        return new PolicyRuleBuilder().withApiGroups(group).withResources(resources).withVerbs(verbs).build();
    }
}
