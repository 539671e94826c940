package dev.sluice.cli;

import dev.sluice.agent.api.AgentStatus;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every node's status lines merged into one report, as {@code cilium status --all-nodes} gathers the cluster's: a key
 * whose value is the same on every node is one line; a key whose value differs (or that some node lacks) names
 * each node's value, so what sets one node apart is what stands out.
 */
final class StatusMerge {
    private StatusMerge() {
    }

    /**
     * One key of the merged report.
     *
     * @param common the value every node reports, or null when they differ
     * @param byNode each node's value ("(not reported)" for a node without the key), in node order
     */
    record Merged(String key, String common, Map<String, String> byNode) {
        static final String MISSING = "(not reported)";
    }

    /** @param byNode each node's lines, in node order */
    static List<Merged> merge(Map<String, List<AgentStatus.Line>> byNode) {
        Set<String> keys = new LinkedHashSet<>();
        Map<String, Map<String, String>> values = new LinkedHashMap<>();
        byNode.forEach((node, lines) -> {
            for (AgentStatus.Line line : lines) {
                keys.add(line.key());
                // A key a node repeats (none does today) keeps its lines apart rather than losing one.
                values.computeIfAbsent(line.key(), k -> new LinkedHashMap<>()).merge(node, line.value(), (a, b) -> a + "; " + b);
            }
        });
        List<Merged> merged = new ArrayList<>();
        for (String key : keys) {
            Map<String, String> perNode = new LinkedHashMap<>();
            for (String node : byNode.keySet()) {
                perNode.put(node, values.get(key).getOrDefault(node, Merged.MISSING));
            }
            boolean same = perNode.values().stream().distinct().count() == 1;
            merged.add(new Merged(key, same ? perNode.values().iterator().next() : null, perNode));
        }
        return merged;
    }

    /** The report's lines, {@code Key: value (all N nodes)} or the key followed by one indented line per node. */
    static List<String> format(List<Merged> merged) {
        List<String> out = new ArrayList<>();
        for (Merged m : merged) {
            if (m.common() != null) {
                out.add(String.format("%-24s %s%s", m.key() + ":", m.common(), m.byNode().size() > 1 ? " (all " + m.byNode().size() + " nodes)" : ""));
            } else {
                out.add(String.format("%-24s %s", m.key() + ":", "differs between nodes"));
                m.byNode().forEach((node, value) -> out.add(String.format("  %-22s %s", node + ":", value)));
            }
        }
        return out;
    }
}
