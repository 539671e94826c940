package dev.sluice.agent.policy;

import dev.sluice.datapath.abi.Direction;
import dev.sluice.datapath.abi.Protocol;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FailClosedTest {
    private static EndpointPolicy endpoint(int id, int entries) {
        List<PolicyEntry> list = new ArrayList<>();
        for (int i = 0; i < entries; i++) {
            list.add(new PolicyEntry(id, Direction.INGRESS.value(), 256 + i, Protocol.TCP.value(), 80, false, 1));
        }
        return new EndpointPolicy("pod-" + id, id, 300 + id, true, false, 1, 0, false, list);
    }

    @Test
    void whatDoesNotFitTheMapFailsClosedLargestFirst() {
        List<EndpointPolicy> out = PolicyAgent.failClosedBeyondCapacity(List.of(endpoint(1, 40_000), endpoint(2, 30_000), endpoint(3, 100)));
        assertTrue(out.get(0).failClosed() && out.get(0).entries().isEmpty(), "the largest endpoint fails closed");
        assertFalse(out.get(1).failClosed());
        assertFalse(out.get(2).failClosed());
        assertEquals(30_100, out.stream().mapToInt(e -> e.entries().size()).sum());
    }

    @Test
    void whatFitsIsLeftAlone() {
        List<EndpointPolicy> in = List.of(endpoint(1, 100), endpoint(2, 100));
        assertEquals(in, PolicyAgent.failClosedBeyondCapacity(in));
    }
}
