package dev.sluice.policy;

import java.util.List;
import java.util.Objects;

/**
 * One rule of a policy, what Cilium calls a rule: a CiliumNetworkPolicy's {@code spec} or one of its
 * {@code specs}, or a whole NetworkPolicy. It applies to the endpoints its selector matches.
 *
 * @param selectorPath where the selector is written ({@code spec.endpointSelector}, {@code specs[1].endpointSelector},
 *                     {@code spec.podSelector}), named by default-deny decisions
 * @param endpointSelector with the namespace requirement a namespaced policy implies already added
 * @param defaultDenyIngress whether the endpoints it selects lose every ingress connection no rule allows
 * @param defaultDenyEgress the same for egress
 */
public record PolicyRule(String selectorPath, EndpointSelector endpointSelector, boolean defaultDenyIngress,
                         boolean defaultDenyEgress, List<PeerRule> peerRules) {
    public PolicyRule {
        Objects.requireNonNull(selectorPath, "selectorPath");
        Objects.requireNonNull(endpointSelector, "endpointSelector");
        peerRules = List.copyOf(peerRules);
    }

    public boolean selects(Endpoint endpoint) {
        return endpointSelector.matches(endpoint.labels());
    }

    public boolean defaultDeny(Direction direction) {
        return direction == Direction.INGRESS ? defaultDenyIngress : defaultDenyEgress;
    }

    /** The rules of one direction and verdict, in the order they are written. */
    public List<PeerRule> peerRules(Direction direction, Verdict verdict) {
        return peerRules.stream().filter(r -> r.direction() == direction && r.verdict() == verdict).toList();
    }
}
