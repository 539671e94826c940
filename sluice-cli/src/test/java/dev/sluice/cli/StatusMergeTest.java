package dev.sluice.cli;

import dev.sluice.agent.api.AgentStatus.Line;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class StatusMergeTest {
    @Test
    void sharedValuesOnceDifferingOnesPerNodeAndMissingOnesSaidSo() {
        Map<String, List<Line>> byNode = new LinkedHashMap<>();
        byNode.put("node-1", List.of(new Line("Agent", "Ok"), new Line("KubeProxyReplacement", "Strict"),
                new Line("Endpoints", "3 (3 ready)"), new Line("Proxy", "Ok, xDS version 4 acked")));
        byNode.put("node-2", List.of(new Line("Agent", "Ok"), new Line("KubeProxyReplacement", "Strict"),
                new Line("Endpoints", "4 (4 ready)"), new Line("Encryption", "Degraded: wg0 is down")));
        byNode.put("node-3", List.of(new Line("Agent", "Ok"), new Line("KubeProxyReplacement", "Strict"),
                new Line("Endpoints", "3 (3 ready)"), new Line("Proxy", "Ok, xDS version 4 acked")));

        List<StatusMerge.Merged> merged = StatusMerge.merge(byNode);
        assertEquals(List.of("Agent", "KubeProxyReplacement", "Endpoints", "Proxy", "Encryption"),
                merged.stream().map(StatusMerge.Merged::key).toList(), "keys in the order the nodes report them");
        assertEquals("Strict", merged.get(1).common());
        assertEquals(null, merged.get(2).common());
        assertEquals(List.of(
                "Agent:                   Ok (all 3 nodes)",
                "KubeProxyReplacement:    Strict (all 3 nodes)",
                "Endpoints:               differs between nodes",
                "  node-1:                3 (3 ready)",
                "  node-2:                4 (4 ready)",
                "  node-3:                3 (3 ready)",
                "Proxy:                   differs between nodes",
                "  node-1:                Ok, xDS version 4 acked",
                "  node-2:                (not reported)",
                "  node-3:                Ok, xDS version 4 acked",
                "Encryption:              differs between nodes",
                "  node-1:                (not reported)",
                "  node-2:                Degraded: wg0 is down",
                "  node-3:                (not reported)"), StatusMerge.format(merged));
    }

    @Test
    void oneNodeIsItsOwnStatus() {
        assertEquals(List.of("Hubble:                  Ok"),
                StatusMerge.format(StatusMerge.merge(Map.of("node-1", List.of(new Line("Hubble", "Ok"))))));
    }
}
