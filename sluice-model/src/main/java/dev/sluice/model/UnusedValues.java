package dev.sluice.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Keys of Cilium's chart that Sluice knows but has no use for: each is reported with the reason, not dropped silently. */
final class UnusedValues {
    /** By key prefix, in the order the reports come. */
    private static final List<Map.Entry<String, String>> REASONS = List.of(
            Map.entry("operator", "Sluice has no separate operator; ignored"),
            Map.entry("image", "Sluice runs from its own build, not from a container image; ignored"),
            Map.entry("k8sServiceHost", "Sluice reads manifests, not a Kubernetes API server; ignored"),
            Map.entry("k8sServicePort", "Sluice reads manifests, not a Kubernetes API server; ignored"));

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
