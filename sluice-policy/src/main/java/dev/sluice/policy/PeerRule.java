package dev.sluice.policy;

import java.util.List;
import java.util.Objects;

/**
 * One entry of {@code ingress}, {@code egress}, {@code ingressDeny} or {@code egressDeny} (for a NetworkPolicy,
 * of {@code ingress} or {@code egress}): it matches a connection when the peer matches any of {@code peers} and,
 * if there are {@code toPorts}, the port matches any of them.
 *
 * @param path where the rule is written, e.g. {@code spec.ingress[0]}, so that decisions can point at it
 * @param verdict {@link Verdict#DENY} for the deny lists
 * @param peers empty for a rule that names no peer and no port ({@code {}}), which matches nothing
 * @param toPorts empty for every port
 */
public record PeerRule(String path, Direction direction, Verdict verdict, List<PeerMatch> peers, List<PortRule> toPorts) {
    public PeerRule {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(verdict, "verdict");
        peers = List.copyOf(peers);
        toPorts = List.copyOf(toPorts);
    }

    /** Whether any port entry that could match carries L7 rules. */
    public boolean hasL7() {
        return toPorts.stream().anyMatch(PortRule::hasL7);
    }
}
