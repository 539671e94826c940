package dev.sluice.policy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.Protocol;
import java.util.List;

/**
 * One entry of {@code toPorts} (or a NetworkPolicy rule's {@code ports}): the connection must use one of
 * {@code ports}.
 *
 * @param l7Rules the entry's {@code rules} (HTTP, Kafka, DNS, ...) exactly as written, kept for the L7 proxy, or
 *                null. They do not change which connections the L4 part admits; they restrict what may be said on
 *                them, which this module does not judge.
 */
public record PortRule(List<PortMatch> ports, JsonNode l7Rules) {
    public PortRule {
        ports = List.copyOf(ports);
        if (ports.isEmpty()) {
            throw new IllegalArgumentException("a port rule needs at least one port");
        }
        l7Rules = l7Rules == null ? null : l7Rules.deepCopy();
    }

    public static PortRule of(PortMatch... ports) {
        return new PortRule(List.of(ports), null);
    }

    public boolean hasL7() {
        return l7Rules != null;
    }

    /** A copy: JSON trees are mutable. */
    @Override
    public JsonNode l7Rules() {
        return l7Rules == null ? null : l7Rules.deepCopy();
    }

    public boolean matches(Protocol protocol, int port, List<ContainerPort> destinationPorts) {
        return ports.stream().anyMatch(p -> p.matches(protocol, port, destinationPorts));
    }

    @Override
    public String toString() {
        return ports + (hasL7() ? " with L7 rules" : "");
    }
}
