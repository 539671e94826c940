package dev.sluice.policy;

import dev.sluice.model.Source;
import java.util.List;
import java.util.Objects;

/** One policy object, read: its rules in the order written. */
public record Policy(PolicyRef ref, Source source, List<PolicyRule> rules) {
    public Policy {
        Objects.requireNonNull(ref, "ref");
        Objects.requireNonNull(source, "source");
        rules = List.copyOf(rules);
    }
}
