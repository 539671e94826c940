package dev.sluice.agent.policy;

/**
 * One entry of the policy map (struct policy_key + policy_entry in bpf/include/policy.h): an allow or a
 * deny for an endpoint, a direction, a peer identity, a protocol and a destination port. {@code 0} in
 * remoteIdentity, proto or port is a wildcard. direction and proto are wire values
 * ({@link dev.sluice.datapath.abi.Direction}, {@link dev.sluice.datapath.abi.Protocol}).
 */
public record PolicyEntry(int endpointId, int direction, int remoteIdentity, int proto, int port, boolean deny, int ruleId) {
}
