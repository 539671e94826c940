package dev.sluice.policy;

/**
 * One way a rule names the other side of a connection. A rule lists several, any of which may match: Cilium's
 * {@code fromEndpoints}/{@code toEndpoints} give {@link EndpointSelector}s, {@code fromEntities} give
 * {@link Entity}s, {@code fromCIDR}/{@code fromCIDRSet} (and NetworkPolicy's {@code ipBlock}) give
 * {@link CidrRule}s.
 */
public sealed interface PeerMatch permits EndpointSelector, Entity, CidrRule {
}
