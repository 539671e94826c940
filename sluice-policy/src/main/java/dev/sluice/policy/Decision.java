package dev.sluice.policy;

import java.util.Objects;

/**
 * What policy does with a new connection, and why.
 *
 * @param reason for {@link Verdict#DENY} Cilium's drop reason, {@link #POLICY_DENIED} (133, nothing allowed it)
 *               or {@link #POLICY_DENIED_BY_DENYLIST} (181, a deny rule matched); for {@link Verdict#ALLOW} a
 *               sentence saying why
 * @param policy the policy whose rule allowed or denied it, or, for a default deny, the first policy that put the
 *               endpoint in default deny; null when no policy is involved
 * @param rule the path of that rule in the policy ({@code spec.ingress[0]}), or, for a default deny, of the
 *             selector that selected the endpoint ({@code spec.endpointSelector}); null when policy is null
 */
public record Decision(Verdict verdict, String reason, PolicyRef policy, String rule) {
    public static final String POLICY_DENIED = "Policy denied";
    public static final String POLICY_DENIED_BY_DENYLIST = "Policy denied by denylist";

    public Decision {
        Objects.requireNonNull(verdict, "verdict");
        Objects.requireNonNull(reason, "reason");
        if ((policy == null) != (rule == null)) {
            throw new IllegalArgumentException("a decision names a policy and its rule, or neither");
        }
        if (verdict == Verdict.DENY && (policy == null || !(reason.equals(POLICY_DENIED) || reason.equals(POLICY_DENIED_BY_DENYLIST)))) {
            throw new IllegalArgumentException("a deny names its policy and Cilium's drop reason, got " + reason);
        }
    }

    public boolean allowed() {
        return verdict == Verdict.ALLOW;
    }

    /** Cilium's drop reason code: 133 for a default deny, 181 for a deny rule, 0 when allowed. */
    public int dropReasonCode() {
        return switch (reason) {
            case POLICY_DENIED -> verdict == Verdict.DENY ? 133 : 0;
            case POLICY_DENIED_BY_DENYLIST -> verdict == Verdict.DENY ? 181 : 0;
            default -> 0;
        };
    }

    @Override
    public String toString() {
        return switch (verdict) {
            case ALLOW -> "ALLOW: " + reason;
            case DENY -> "DENY (" + reason + ", " + dropReasonCode() + "): " + policy + " " + rule;
        };
    }
}
