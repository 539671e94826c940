package dev.sluice.model;

import java.util.List;
import java.util.Map;

/** What every pod of a Deployment (or a bare Pod) carries: its labels, its containers and their restart policy. */
public record PodTemplate(Map<String, String> labels, List<ContainerSpec> containers, RestartPolicy restartPolicy) {
    public PodTemplate {
        labels = Copies.map(labels);
        containers = Copies.list(containers);
        restartPolicy = restartPolicy == null ? RestartPolicy.ALWAYS : restartPolicy;
    }

    public PodTemplate(Map<String, String> labels, List<ContainerSpec> containers) {
        this(labels, containers, RestartPolicy.ALWAYS);
    }
}
