package dev.sluice.workload;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Who answered a call: the pod, where it runs, and its labels. The JSON form is
 * {@code {"pod":..,"namespace":..,"node":..,"version":..,"labels":{..}}}.
 */
@JsonPropertyOrder({"pod", "namespace", "node", "version", "labels"})
// Echo replies carry how the request arrived next to the identity; readers of an identity skip those.
@JsonIgnoreProperties(ignoreUnknown = true)
public record Identity(String pod, String namespace, String node, Map<String, String> labels) {
    public Identity {
        Objects.requireNonNull(pod, "pod");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(node, "node");
        // Sorted, so that the JSON and the text output list labels in the same order on every pod.
        labels = Collections.unmodifiableMap(new TreeMap<>(labels == null ? Map.of() : labels));
    }

    /** The {@code version} label, or "" when the pod has none. */
    @JsonProperty(value = "version", access = JsonProperty.Access.READ_ONLY)
    public String version() {
        return labels.getOrDefault("version", "");
    }
}
