package dev.sluice.agent.policy;

import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.PolicyRevision;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which endpoints' revisions move after a sync, and to what. */
class PolicyRevisionsTest {
    private static final PolicyEntry ALLOW_A = new PolicyEntry(1, 0, 1001, 6, 80, false, 7);
    private static final PolicyEntry ALLOW_B = new PolicyEntry(2, 0, 1001, 6, 80, false, 8);

    private static EndpointPolicy policy(int id, PolicyEntry... entries) {
        return new EndpointPolicy("default/p" + id, id, 1000 + id, true, false, 500, 0, false, List.of(entries));
    }

    private static EndpointInfo info(int id, boolean enforceIngress) {
        return new EndpointInfo(1000 + id, id, enforceIngress, false, 500, 0, PolicyAgent.ip("10.0.0." + id), 0, 0);
    }

    @Test
    void onlyTheEndpointsWhoseInputsChangedMoveAndAnyIpcacheChangeMovesAll() {
        PolicyRevisions r = new PolicyRevisions();
        Map<Integer, EndpointInfo> infos = Map.of(11, info(1, true), 12, info(2, true));
        Map<String, Integer> ipcache = Map.of("10.0.0.1/32", 1001);
        // First sync: every endpoint follows what the map holds (a predecessor's 41 for endpoint 1, none for 2).
        assertEquals(Map.of(1, new PolicyRevision(42, 11), 2, new PolicyRevision(1, 12)),
                r.next(List.of(policy(1, ALLOW_A), policy(2, ALLOW_B)), infos, ipcache, id -> id == 1 ? 41 : 0));
        assertEquals(Map.of(), r.next(List.of(policy(1, ALLOW_A), policy(2, ALLOW_B)), infos, Map.copyOf(ipcache), id -> 999),
                "nothing changed: nothing moves");
        assertEquals(Map.of(2, new PolicyRevision(2, 12)), r.next(List.of(policy(1, ALLOW_A), policy(2)), infos, ipcache, id -> 999),
                "endpoint 2 lost its allow");
        assertEquals(Map.of(1, new PolicyRevision(43, 11)),
                r.next(List.of(policy(1, ALLOW_A), policy(2)), Map.of(11, info(1, false), 12, info(2, true)), ipcache, id -> 999),
                "endpoint 1's enforcement changed");
        assertEquals(Map.of(1, new PolicyRevision(44, 11), 2, new PolicyRevision(3, 12)),
                r.next(List.of(policy(1, ALLOW_A), policy(2)), Map.of(11, info(1, false), 12, info(2, true)),
                        Map.of("10.0.0.1/32", 1002), id -> 999), "a peer's identity changed: every endpoint moves");
        assertEquals(Map.of(1, new PolicyRevision(45, 13)),
                r.next(List.of(policy(1, ALLOW_A), policy(2)), Map.of(13, info(1, false), 12, info(2, true)),
                        Map.of("10.0.0.1/32", 1002), id -> 999), "a new veth (ifindex) for endpoint 1");
    }

    @Test
    void zeroIsSkippedWhenTheRevisionWraps() {
        PolicyRevisions r = new PolicyRevisions();
        assertEquals(Map.of(1, new PolicyRevision(1, 11)),
                r.next(List.of(policy(1, ALLOW_A)), Map.of(11, info(1, true)), Map.of(), id -> -1));
    }
}
