package dev.sluice.policy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.Protocol;
import java.util.List;

/**
 * One entry of {@code toPorts} (or a NetworkPolicy rule's {@code ports}): the connection must use one of
 * {@code ports}.
 *
 * @param l7Rules the entry's {@code rules} (HTTP, DNS) exactly as written, or null
 * @param http its {@code rules.http}, read: the requests the peers may send on these ports (OR of the entries);
 *             empty when the entry has no HTTP rules. On ingress they are enforced by the node proxy, and the
 *             peers reach the port only through it ({@link ReferenceEvaluator})
 */
public record PortRule(List<PortMatch> ports, JsonNode l7Rules, List<HttpRule> http) {
    public PortRule {
        ports = List.copyOf(ports);
        if (ports.isEmpty()) {
            throw new IllegalArgumentException("a port rule needs at least one port");
        }
        l7Rules = l7Rules == null ? null : l7Rules.deepCopy();
        http = List.copyOf(http);
        if (!http.isEmpty() && l7Rules == null) {
            throw new IllegalArgumentException("HTTP rules come from the port rule's rules");
        }
    }

    public PortRule(List<PortMatch> ports, JsonNode l7Rules) {
        this(ports, l7Rules, List.of());
    }

    public static PortRule of(PortMatch... ports) {
        return new PortRule(List.of(ports), null);
    }

    /** Whether its L7 rules are HTTP rules, which the node proxy enforces. */
    public boolean hasHttp() {
        return !http.isEmpty();
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
