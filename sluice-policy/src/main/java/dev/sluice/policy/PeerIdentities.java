package dev.sluice.policy;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The identity each pod carries as a peer in the datapath (the ipcache), where that differs from the identity of
 * its labels.
 *
 * <p>Why: the datapath decides by the peer's identity, and an identity stands for every pod with the same labels.
 * A CIDR that selects pods by address (NetworkPolicy's ipBlock) can cover one such pod and not another: given one
 * identity, the two would get one verdict, and an {@code ipBlock: {cidr: 10.0.1.5/32}} would let a replica at
 * 10.0.2.7 through too. So the pods of a label identity are grouped by which of those CIDRs cover their address;
 * where an identity's pods fall into more than one group, every group that some CIDR covers gets a node-local
 * identity of its own (labels: the pod's plus {@code sluice:ipblock=...}, the CIDRs that cover it), and the group
 * no CIDR covers keeps the label identity. Identities that no ipBlock splits (the usual case) stay as they are, so
 * flows and {@code endpoint list} still show one identity per set of labels, and the cost (more peers to compile)
 * is paid only where policy tells replicas apart by address.
 */
public final class PeerIdentities {
    /** The source of the label that names what an address-split identity is covered by. */
    public static final String SOURCE = "sluice";

    private PeerIdentities() {
    }

    /**
     * @param pods every pod of the cluster, each with its address
     * @return the pods whose peer identity is not their label identity, with the identity they get instead
     */
    public static Map<Endpoint, Identity> split(PolicySet policies, Collection<Endpoint> pods, IdentityAllocator allocator) {
        List<CidrRule> selectingPods = podCidrs(policies);
        if (selectingPods.isEmpty()) {
            return Map.of();
        }
        Map<Integer, Map<List<CidrRule>, List<Endpoint>>> byIdentity = new LinkedHashMap<>();
        for (Endpoint pod : pods) {
            List<CidrRule> covering = selectingPods.stream().filter(c -> c.matches(pod)).toList();
            byIdentity.computeIfAbsent(pod.identity().id(), id -> new LinkedHashMap<>())
                    .computeIfAbsent(covering, c -> new ArrayList<>()).add(pod);
        }
        Map<Endpoint, Identity> out = new LinkedHashMap<>();
        for (Map<List<CidrRule>, List<Endpoint>> groups : byIdentity.values()) {
            if (groups.size() < 2) {
                continue; // every pod of the identity is covered alike: the label identity tells them apart well enough
            }
            groups.forEach((covering, members) -> {
                if (covering.isEmpty()) {
                    return;
                }
                Endpoint first = members.getFirst();
                List<Label> labels = new ArrayList<>(first.identity().labels().labels());
                labels.add(new Label(SOURCE, "ipblock", covering.stream().map(CidrRule::toString).collect(Collectors.joining(";"))));
                Identity identity = allocator.allocateLocal(Labels.of(labels));
                members.forEach(m -> out.put(m, identity));
            });
        }
        return out;
    }

    /** Every distinct CIDR rule that selects pods, in the order the policies write them. */
    static List<CidrRule> podCidrs(PolicySet policies) {
        Set<CidrRule> out = new LinkedHashSet<>();
        for (Policy policy : policies.policies()) {
            for (PolicyRule rule : policy.rules()) {
                for (PeerRule peerRule : rule.peerRules()) {
                    for (PeerMatch peer : peerRule.peers()) {
                        if (peer instanceof CidrRule cidr && cidr.selectsPods()) {
                            out.add(cidr);
                        }
                    }
                }
            }
        }
        return List.copyOf(out);
    }
}
