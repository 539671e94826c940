package dev.sluice.agent.policy;

import dev.sluice.policy.PolicyRef;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Numbers for rules, so that a drop in the datapath (which only carries a number) can be attributed to
 * the policy and the rule that caused it. A rule keeps its number for the life of the table.
 */
public final class RuleTable {
    /** A rule of a policy: the policy and the rule's path in its manifest, e.g. spec.ingressDeny[0]. */
    public record Rule(PolicyRef policy, String path) {
        @Override
        public String toString() {
            return policy + " " + path;
        }
    }

    private final Map<Rule, Integer> ids = new HashMap<>();
    private final Map<Integer, Rule> rules = new LinkedHashMap<>();

    /** The rule's number, from 1 (0 means "no rule"). */
    public synchronized int id(PolicyRef policy, String path) {
        if (policy == null) {
            return 0;
        }
        return ids.computeIfAbsent(new Rule(policy, path), r -> {
            int id = ids.size() + 1;
            rules.put(id, r);
            return id;
        });
    }

    public synchronized Rule rule(int id) {
        return rules.get(id);
    }

    /** How many rules have numbers: rules are only ever added, so a changed count is a changed table. */
    public synchronized int size() {
        return rules.size();
    }

    public synchronized Map<Integer, Rule> all() {
        return Map.copyOf(rules);
    }
}
