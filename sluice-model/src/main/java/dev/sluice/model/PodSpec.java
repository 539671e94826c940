package dev.sluice.model;

import java.util.Objects;

/**
 * A bare Pod, one not made by a Deployment.
 *
 * @param nodeName the node the manifest pins it to, or null to let Sluice place it
 */
public record PodSpec(ObjectRef ref, PodTemplate template, String nodeName, Source source) {
    public PodSpec {
        Objects.requireNonNull(ref, "ref");
        Objects.requireNonNull(template, "template");
    }
}
