package dev.sluice.agent.policy;

import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.PolicyRevision;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.IntUnaryOperator;

/**
 * Which endpoints' policy revisions must move after a sync (bpf/include/policy.h, {@code struct policy_revision}): the
 * datapath decides an established flow again only when its endpoint's revision differs from the one its CT entry was
 * admitted under, so the revision must move whenever anything a verdict of the endpoint depends on changed: its
 * policy entries, its endpoint_info (enforcement, fail-closed, identity, ifindex) or the ipcache (a peer's identity).
 * Kept as the inputs themselves, compared by equality (no hash that could collide and miss a change).
 *
 * <p>Why every endpoint moves on any ipcache change: a new, removed or changed address or CIDR may change the
 * identity of a peer of any flow, and finding which flows is the datapath's job; a move costs each flow of the
 * endpoint one policy lookup on its next forward packet (and a bypassed socket one re-check), not a drop.
 *
 * <p>The first revision written for an endpoint id in this process follows the one already in the map (read through
 * {@code current}), so that entries a predecessor admitted are decided once again under this agent's rules.
 */
final class PolicyRevisions {
    /** What the endpoint's verdicts depended on at its last revision. */
    private record Inputs(Set<PolicyEntry> entries, EndpointInfo info, int ifindex) {
    }

    private final Map<Integer, Inputs> last = new HashMap<>();
    private final Map<Integer, Integer> revisions = new HashMap<>();
    private Map<?, ?> lastIpcache;

    /**
     * The revisions to write after this sync's maps are written, by endpoint id: only endpoints whose inputs changed.
     *
     * @param infos   the endpoints map as written, by ifindex
     * @param current an endpoint id's revision in the map now (for the first revision of an id in this process)
     */
    Map<Integer, PolicyRevision> next(List<EndpointPolicy> compiled, Map<Integer, EndpointInfo> infos, Map<?, ?> ipcache,
                                      IntUnaryOperator current) {
        boolean ipcacheChanged = !Objects.equals(lastIpcache, ipcache);
        lastIpcache = Map.copyOf(ipcache);
        Map<Integer, Integer> ifindexById = new HashMap<>();
        Map<Integer, EndpointInfo> infoById = new HashMap<>();
        infos.forEach((ifindex, info) -> {
            ifindexById.put(info.endpointId(), ifindex);
            infoById.put(info.endpointId(), info);
        });
        Map<Integer, PolicyRevision> out = new HashMap<>();
        for (EndpointPolicy ep : compiled) {
            Integer ifindex = ifindexById.get(ep.endpointId());
            if (ifindex == null) {
                continue; // no veth yet: nothing of it is tracked
            }
            Inputs now = new Inputs(Set.copyOf(ep.entries()), infoById.get(ep.endpointId()), ifindex);
            if (!ipcacheChanged && now.equals(last.get(ep.endpointId()))) {
                continue;
            }
            last.put(ep.endpointId(), now);
            int previous = revisions.containsKey(ep.endpointId()) ? revisions.get(ep.endpointId()) : current.applyAsInt(ep.endpointId());
            int revision = previous + 1 == 0 ? 1 : previous + 1; // 0 is "never re-checked"
            revisions.put(ep.endpointId(), revision);
            out.put(ep.endpointId(), new PolicyRevision(revision, ifindex));
        }
        return out;
    }
}
