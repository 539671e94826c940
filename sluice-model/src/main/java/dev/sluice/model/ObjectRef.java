package dev.sluice.model;

import java.util.Objects;

/**
 * A namespaced object's identity.
 *
 * @param namespace null for cluster-scoped objects (a CiliumClusterwideNetworkPolicy, for example)
 */
public record ObjectRef(String namespace, String name) {
    public ObjectRef {
        Objects.requireNonNull(name, "name");
    }

    @Override
    public String toString() {
        return namespace == null ? name : namespace + "/" + name;
    }
}
