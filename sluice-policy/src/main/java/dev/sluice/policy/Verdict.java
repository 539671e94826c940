package dev.sluice.policy;

/** What a rule does with the connections it matches, and what the evaluator decides. */
public enum Verdict {
    ALLOW, DENY
}
