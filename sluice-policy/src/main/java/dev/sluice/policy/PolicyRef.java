package dev.sluice.policy;

import java.util.Objects;

/**
 * A policy object as users name it: {@code CiliumNetworkPolicy prod/allow-web}.
 *
 * @param namespace null for a CiliumClusterwideNetworkPolicy
 */
public record PolicyRef(String kind, String namespace, String name) {
    public PolicyRef {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(name, "name");
    }

    @Override
    public String toString() {
        return kind + " " + (namespace == null ? name : namespace + "/" + name);
    }
}
