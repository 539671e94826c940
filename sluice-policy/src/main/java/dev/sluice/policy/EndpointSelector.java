package dev.sluice.policy;

import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A label selector over identities: every requirement must hold. With none it is Cilium's wildcard selector and
 * matches every peer, the world and the host included; that is what a rule with only {@code toPorts}, or a
 * NetworkPolicy rule without {@code from}, stands for.
 */
public record EndpointSelector(List<Requirement> requirements) implements PeerMatch {
    public static final EndpointSelector ALL = new EndpointSelector(List.of());

    public EndpointSelector {
        requirements = List.copyOf(requirements);
    }

    public boolean matches(Labels labels) {
        for (Requirement r : requirements) {
            if (!r.matches(labels)) {
                return false;
            }
        }
        return true;
    }

    public boolean hasKey(LabelKey key) {
        return requirements.stream().anyMatch(r -> r.key().equals(key));
    }

    public boolean hasKeyPrefix(String source, String keyPrefix) {
        return requirements.stream().anyMatch(r -> r.key().source().equals(source) && r.key().key().startsWith(keyPrefix));
    }

    public boolean hasSource(String source) {
        return requirements.stream().anyMatch(r -> r.key().source().equals(source));
    }

    EndpointSelector and(Requirement requirement) {
        return new EndpointSelector(Stream.concat(requirements.stream(), Stream.of(requirement)).toList());
    }

    @Override
    public String toString() {
        return requirements.isEmpty() ? "{}" : requirements.stream().map(Requirement::toString)
                .collect(Collectors.joining(", ", "{", "}"));
    }
}
