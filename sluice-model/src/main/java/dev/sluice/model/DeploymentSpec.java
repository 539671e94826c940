package dev.sluice.model;

import java.util.Map;
import java.util.Objects;

/**
 * A Deployment: {@code replicas} pods made from {@code template}.
 *
 * @param selector the matchLabels, each of which the template's labels carry
 */
public record DeploymentSpec(ObjectRef ref, int replicas, Map<String, String> selector, PodTemplate template,
                             Source source) {
    public DeploymentSpec {
        Objects.requireNonNull(ref, "ref");
        Objects.requireNonNull(template, "template");
        selector = Copies.map(selector);
    }
}
