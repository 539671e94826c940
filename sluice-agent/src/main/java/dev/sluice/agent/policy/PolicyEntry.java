package dev.sluice.agent.policy;

/**
 * One entry of the policy map (struct policy_key + policy_entry in bpf/include/policy.h): an allow or a
 * deny for an endpoint, a direction, a peer identity, a protocol and a destination port. {@code 0} in
 * remoteIdentity, proto or port is a wildcard.
 */
public record PolicyEntry(int endpointId, int direction, int remoteIdentity, int proto, int port, boolean deny, int ruleId) {
    public static final int INGRESS = 0;
    public static final int EGRESS = 1;
}
