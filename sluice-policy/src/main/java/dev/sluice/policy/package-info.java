/**
 * Network policy as Sluice's users write it, and what it decides.
 *
 * <ul>
 *   <li>{@link dev.sluice.policy.PolicyParser} reads CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
 *       networking.k8s.io/v1 NetworkPolicy objects into {@link dev.sluice.policy.Policy}s, each a list of
 *       {@link dev.sluice.policy.PolicyRule}s (Cilium's rules: a selector and its ingress/egress entries). The
 *       implicit parts of both languages are made explicit there, once: the policy's namespace in selectors,
 *       the wildcard peer of a rule with only ports, default deny per direction.</li>
 *   <li>{@link dev.sluice.policy.IdentityAllocator} numbers label sets (from 256) and CIDRs (from 2^24 + 1);
 *       {@link dev.sluice.policy.EndpointLabels} says which labels of a pod count.</li>
 *   <li>{@link dev.sluice.policy.ReferenceEvaluator} is the oracle the eBPF datapath is tested against: a plain
 *       walk over every rule for one new connection, returning a {@link dev.sluice.policy.Decision} that names the
 *       policy and rule responsible.</li>
 * </ul>
 */
package dev.sluice.policy;
