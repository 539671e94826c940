package dev.sluice.lab;

import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.NodeState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.Desired;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Placement before anything is made: the pods-per-node limit, a full pod CIDR, spreading, and the reasons given. */
class NodeCapacityTest {

    private static NodeState node(int i, int maxPods) {
        return new NodeState("node-" + i, i, "n" + i, "10.254.0." + i, AddressPlan.DEFAULT.podCidr(i), "", maxPods);
    }

    private static PodState pod(String name, NodeState node, int host, String owner) {
        return new PodState("default", name, node.name(), AddressPlan.DEFAULT.podAddress(node.index(), host), "ns", "v", "",
                Map.of(), owner, "h", List.<ContainerState>of(), 0, true, "");
    }

    private static LabState state(List<NodeState> nodes, List<PodState> pods) {
        return new LabState("t", "/x", "f", nodes, Desired.empty(), Map.of(), pods, List.of(), null, 0, List.of());
    }

    @Test
    void aDeploymentSpreadsOverTheNodesUntilEachIsAtItsLimit() {
        NodeState n1 = node(1, 2);
        NodeState n2 = node(2, 2);
        NodeCapacity c = NodeCapacity.of(state(List.of(n1, n2), List.of(pod("dns", n1, 10, "coredns"))));
        List<String> placed = new ArrayList<>();
        Optional<NodeCapacity.Slot> slot;
        while ((slot = c.place("default", "web", null)).isPresent()) {
            placed.add(slot.get().node().name() + "=" + slot.get().ip());
        }
        // node-1 already holds one pod: web goes to node-1 once, node-2 twice; the DNS pod's address is not reused.
        assertEquals(List.of("node-1=10.244.1.11", "node-2=10.244.2.10", "node-2=10.244.2.11"), placed.stream().sorted().toList());
        String why = c.whyNot(null);
        assertTrue(why.startsWith("0/2 nodes are available: node-1: too many pods (2 of at most 2 a node"), why);
        assertTrue(why.contains("node-2: too many pods"), why);
    }

    @Test
    void aFullPodCidrIsTheReasonWhenTheLimitIsAboveIt() {
        NodeState n1 = node(1, 1000);
        List<PodState> pods = new ArrayList<>();
        for (int host = AddressPlan.FIRST_POD_HOST; host <= AddressPlan.LAST_POD_HOST; host++) {
            pods.add(pod("p" + host, n1, host, null));
        }
        NodeCapacity c = NodeCapacity.of(state(List.of(n1), pods));
        assertTrue(c.place("default", null, null).isEmpty());
        assertEquals("0/1 nodes are available: node-1: its pod CIDR 10.244.1.0/24 is full (241 pod addresses)", c.whyNot(null));
    }

    @Test
    void aPodPinnedToAFullNodeIsNotPlacedElsewhereAndAReleasedSlotIsReused() {
        NodeState n1 = node(1, 1);
        NodeState n2 = node(2, 5);
        PodState old = pod("old", n1, 10, null);
        NodeCapacity c = NodeCapacity.of(state(List.of(n1, n2), List.of(old)));
        assertTrue(c.place("default", null, "node-1").isEmpty());
        assertTrue(c.whyNot("node-1").startsWith("0/1 nodes are available (spec.nodeName: node-1): node-1: too many pods"), c.whyNot("node-1"));
        c.release(old);
        assertEquals("10.244.1.10", c.place("default", null, "node-1").orElseThrow().ip());
    }

    @Test
    void aStateWrittenBeforeTheLimitGetsTheKubeletDefault() {
        assertEquals(110, new NodeState("n", 1, "n", "a", "c", "", 0).maxPods());
        assertEquals(List.of(), new LabState("t", "/x", "f", List.of(), Desired.empty(), Map.of(), List.of(), List.of(), null, 0, null).pending());
    }
}
