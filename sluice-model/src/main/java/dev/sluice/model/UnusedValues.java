package dev.sluice.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Keys of Cilium's chart that Sluice knows but has no use for: each is reported with the reason, not dropped silently. */
final class UnusedValues {
    /** By key prefix, in the order the reports come. */
    private static final List<Map.Entry<String, String>> REASONS = List.of(
            Map.entry("operator", "Sluice has no separate operator; ignored"),
            // Keys `sluice install` reads (docs/kubernetes.md); the agent, which gets the same file, has no use for them.
            Map.entry("image", "the image of Sluice's pods, read by `sluice install`; not used by the agent"),
            Map.entry("cluster.name", "read by `sluice install` (each agent's --cluster); not used from the values by the agent"),
            Map.entry("k8sServiceHost", "the API server's address, read by `sluice install` (the agent's KUBERNETES_SERVICE_HOST); not used from the values by the agent"),
            Map.entry("k8sServicePort", "the API server's port, read by `sluice install` (the agent's KUBERNETES_SERVICE_PORT); not used from the values by the agent"));

    private UnusedValues() {
    }

    static List<String> report(ValuesFile values) {
        List<String> notes = new ArrayList<>();
        for (Map.Entry<String, String> unused : REASONS) {
            values.take(unused.getKey()).forEach(key -> notes.add(values.file() + ": " + key + ": " + unused.getValue()));
        }
        String privileged = "securityContext.privileged";
        if (values.sets(privileged)) {
            notes.add(values.file() + ": " + privileged + ": " + (values.bool(privileged, true)
                    ? "accepted: Sluice agents always run privileged"
                    : "cannot be false: Sluice agents load BPF programs and always run privileged; ignored"));
        }
        return notes;
    }
}
