package dev.sluice.policy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The identity-relevant labels of a pod, the ones Cilium derives its security identity from and policies select
 * on: the pod's labels, its namespace, the namespace's labels, its service account and the cluster.
 */
public final class EndpointLabels {
    public static final String NAMESPACE = "io.kubernetes.pod.namespace";
    /** Namespace labels become pod labels under this prefix, so that one selector can name both. */
    public static final String NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels.";
    public static final String SERVICE_ACCOUNT = "io.cilium.k8s.policy.serviceaccount";
    public static final String CLUSTER = "io.cilium.k8s.policy.cluster";
    /** Cilium's default cluster name; the lab is one cluster, so it is fixed. */
    public static final String CLUSTER_NAME = "default";
    /**
     * Kubernetes (1.21 and later) puts this label on every namespace, and NetworkPolicies select namespaces by
     * it, so it is present here even when a Namespace manifest does not write it.
     */
    static final String NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

    /**
     * Labels that differ between rollouts of the same workload: keeping them would give each ReplicaSet or
     * revision its own identity and churn every policy map at each rollout, for nothing a policy could use.
     */
    static final Set<String> PER_ROLLOUT = Set.of("pod-template-hash", "controller-revision-hash", "pod-template-generation");

    private EndpointLabels() {
    }

    /** A pod running as the namespace's {@code default} service account, as Kubernetes assigns when a pod names none. */
    public static Labels of(String namespace, Map<String, String> podLabels, Map<String, String> namespaceLabels) {
        return of(namespace, podLabels, namespaceLabels, "default");
    }

    public static Labels of(String namespace, Map<String, String> podLabels, Map<String, String> namespaceLabels,
                            String serviceAccount) {
        List<Label> labels = new ArrayList<>();
        podLabels.forEach((key, value) -> {
            if (!PER_ROLLOUT.contains(key)) {
                labels.add(Label.k8s(key, value));
            }
        });
        labels.add(Label.k8s(NAMESPACE, namespace));
        Map<String, String> namespaceOwn = new TreeMap<>(namespaceLabels);
        // The API server sets it to the name whatever the manifest says.
        namespaceOwn.put(NAMESPACE_NAME_LABEL, namespace);
        namespaceOwn.forEach((key, value) -> labels.add(Label.k8s(NAMESPACE_LABELS_PREFIX + key, value)));
        labels.add(Label.k8s(SERVICE_ACCOUNT, serviceAccount));
        labels.add(Label.k8s(CLUSTER, CLUSTER_NAME));
        return Labels.of(labels);
    }
}
