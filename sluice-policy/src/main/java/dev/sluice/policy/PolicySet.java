package dev.sluice.policy;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Every policy in force, in the order they were read, which is the order decisions search them in. */
public record PolicySet(List<Policy> policies) {
    public static final PolicySet EMPTY = new PolicySet(List.of());

    public PolicySet {
        policies = List.copyOf(policies);
    }

    public static PolicySet of(Policy... policies) {
        return new PolicySet(List.of(policies));
    }

    /** Every distinct CIDR the rules name, except lists included, in the order written: each needs an identity. */
    public Set<Cidr> cidrs() {
        Set<Cidr> cidrs = new LinkedHashSet<>();
        for (Policy policy : policies) {
            for (PolicyRule rule : policy.rules()) {
                for (PeerRule peerRule : rule.peerRules()) {
                    for (PeerMatch peer : peerRule.peers()) {
                        if (peer instanceof CidrRule cidrRule) {
                            cidrs.add(cidrRule.cidr());
                            cidrs.addAll(cidrRule.except());
                        }
                    }
                }
            }
        }
        return cidrs;
    }
}
