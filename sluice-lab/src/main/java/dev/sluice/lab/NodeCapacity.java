package dev.sluice.lab;

import dev.sluice.lab.LabState.NodeState;
import dev.sluice.lab.LabState.PodState;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What each node still has room for, as the scheduler sees it: pods below its {@code maxPods}, and free
 * addresses in its pod CIDR. Every pod of a change is placed here first, before anything is made, so a change
 * makes only pods that fit and knows at once how many stay Pending and why.
 */
final class NodeCapacity {
    /** Where a pod goes: its node and address. */
    record Slot(NodeState node, String ip) {
    }

    private final List<NodeState> nodes;
    private final Map<String, Integer> podsOn = new HashMap<>();
    private final Map<String, Set<String>> usedIps = new HashMap<>();
    /** Pods per node of each owner ("ns/owner@node"), for spreading a Deployment over the nodes. */
    private final Map<String, Integer> ownerPodsOn = new HashMap<>();

    private NodeCapacity(List<NodeState> nodes) {
        this.nodes = nodes;
    }

    static NodeCapacity of(LabState state) {
        NodeCapacity c = new NodeCapacity(state.nodes());
        for (PodState p : state.pods()) {
            c.take(p.node(), p.ip(), p.namespace(), p.owner());
        }
        return c;
    }

    /** Frees what a pod that is about to be removed holds. */
    void release(PodState p) {
        podsOn.merge(p.node(), -1, Integer::sum);
        usedIps.getOrDefault(p.node(), Set.of()).remove(p.ip());
        if (p.owner() != null) {
            ownerPodsOn.merge(ownerKey(p.namespace(), p.owner(), p.node()), -1, Integer::sum);
        }
    }

    /**
     * Places one pod of {@code owner} (null for a bare pod), on {@code pinned} if given, else on the node with
     * the fewest pods of that owner, then the fewest pods; empty if no node has room.
     */
    Optional<Slot> place(String namespace, String owner, String pinned) {
        Optional<NodeState> node = nodes.stream()
                .filter(n -> pinned == null || n.name().equals(pinned))
                .filter(n -> whyFull(n).isEmpty())
                .min(Comparator.comparingInt((NodeState n) -> owner == null ? 0 : ownerPodsOn.getOrDefault(ownerKey(namespace, owner, n.name()), 0))
                        .thenComparingInt(n -> podsOn.getOrDefault(n.name(), 0))
                        .thenComparingInt(NodeState::index));
        return node.map(n -> {
            String ip = freeIp(n).orElseThrow();
            take(n.name(), ip, namespace, owner);
            return new Slot(n, ip);
        });
    }

    /** Why no node takes another pod, as the scheduler says it: {@code 0/2 nodes are available: node-1: ...}. */
    String whyNot(String pinned) {
        List<String> reasons = new ArrayList<>();
        for (NodeState n : nodes) {
            if (pinned != null && !n.name().equals(pinned)) {
                continue;
            }
            whyFull(n).ifPresent(r -> reasons.add(n.name() + ": " + r));
        }
        long considered = pinned == null ? nodes.size() : nodes.stream().filter(n -> n.name().equals(pinned)).count();
        return "0/" + considered + " nodes are available" + (pinned == null ? "" : " (spec.nodeName: " + pinned + ")") + ": "
                + String.join("; ", reasons);
    }

    private Optional<String> whyFull(NodeState n) {
        int pods = podsOn.getOrDefault(n.name(), 0);
        if (pods >= n.maxPods()) {
            return Optional.of("too many pods (" + pods + " of at most " + n.maxPods() + " a node; 'lab up --max-pods N' raises it)");
        }
        if (freeIp(n).isEmpty()) {
            return Optional.of("its pod CIDR " + n.podCidr() + " is full (" + (AddressPlan.LAST_POD_HOST - AddressPlan.FIRST_POD_HOST + 1)
                    + " pod addresses)");
        }
        return Optional.empty();
    }

    private Optional<String> freeIp(NodeState n) {
        Set<String> used = usedIps.getOrDefault(n.name(), Set.of());
        for (int host = AddressPlan.FIRST_POD_HOST; host <= AddressPlan.LAST_POD_HOST; host++) {
            String ip = AddressPlan.DEFAULT.podAddress(n.index(), host);
            if (!used.contains(ip)) {
                return Optional.of(ip);
            }
        }
        return Optional.empty();
    }

    private void take(String node, String ip, String namespace, String owner) {
        podsOn.merge(node, 1, Integer::sum);
        usedIps.computeIfAbsent(node, k -> new HashSet<>()).add(ip);
        if (owner != null) {
            ownerPodsOn.merge(ownerKey(namespace, owner, node), 1, Integer::sum);
        }
    }

    private static String ownerKey(String namespace, String owner, String node) {
        return namespace + "/" + owner + "@" + node;
    }
}
