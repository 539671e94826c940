package dev.sluice.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Objects;

/**
 * Any object Sluice does not model itself (CiliumNetworkPolicy, CiliumEnvoyConfig, NetworkPolicy, HTTPRoute,
 * ConfigMap, ...), kept whole for the agent.
 *
 * @param ref its namespace is null for cluster-scoped kinds such as CiliumClusterwideNetworkPolicy
 * @param body the whole document, apiVersion, kind and metadata included
 */
public record OtherObject(String apiVersion, String kind, ObjectRef ref, Source source, JsonNode body) {
    public OtherObject {
        Objects.requireNonNull(apiVersion, "apiVersion");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(ref, "ref");
        body = Objects.requireNonNull(body, "body").deepCopy();
    }

    /** A copy: JSON trees are mutable, and this record must stay as it was read. */
    @Override
    public JsonNode body() {
        return body.deepCopy();
    }

    /** The API group ("" for the core group): objects of one group and kind are the same object in any version. */
    public String group() {
        int slash = apiVersion.indexOf('/');
        return slash < 0 ? "" : apiVersion.substring(0, slash);
    }
}
