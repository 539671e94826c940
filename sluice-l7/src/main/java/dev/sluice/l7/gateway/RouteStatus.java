package dev.sluice.l7.gateway;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A Gateway API route's status for one parent, as the route's {@code status.parents[]} entry holds it.
 *
 * @param kind HTTPRoute or GRPCRoute
 * @param parent the parentRef as written ({@code Service default/product-service:50051})
 */
public record RouteStatus(String kind, String namespace, String name, String parent, List<Condition> conditions) {
    public RouteStatus {
        conditions = List.copyOf(conditions);
    }

    /** One condition: {@code type} is Accepted or ResolvedRefs; {@code reason} is Gateway API's. */
    public record Condition(String type, boolean status, String reason, String message) {
        @Override
        public String toString() {
            return type + "=" + (status ? "True" : "False") + " (" + reason + (message.isEmpty() ? "" : ": " + message) + ")";
        }
    }

    public boolean is(String type) {
        return conditions.stream().anyMatch(c -> c.type().equals(type) && c.status());
    }

    /** {@code HTTPRoute default/canary -> Service default/product-service: Accepted=True (Accepted), ...}. */
    @Override
    public String toString() {
        return kind + " " + namespace + "/" + name + " -> " + parent + ": "
                + conditions.stream().map(Condition::toString).collect(Collectors.joining(", "));
    }
}
