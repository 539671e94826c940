package dev.sluice.model;

import java.util.Map;
import java.util.Objects;

/** A Namespace the manifests declare; its labels matter to policies that select namespaces. */
public record NamespaceSpec(String name, Map<String, String> labels) {
    public NamespaceSpec {
        Objects.requireNonNull(name, "name");
        labels = Copies.map(labels);
    }
}
