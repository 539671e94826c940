package dev.sluice.model;

import java.util.List;
import java.util.Map;

/** What every pod of a Deployment (or a bare Pod) carries: its labels and its containers. */
public record PodTemplate(Map<String, String> labels, List<ContainerSpec> containers) {
    public PodTemplate {
        labels = Copies.map(labels);
        containers = Copies.list(containers);
    }
}
