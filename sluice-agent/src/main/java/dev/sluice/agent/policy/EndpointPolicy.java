package dev.sluice.agent.policy;

import java.util.List;

/**
 * What the datapath needs for one local endpoint (struct endpoint_info and its policy entries): whether
 * each direction is in default deny, which rule to blame for a default-deny drop, and the entries.
 * {@code failClosed}: the entries did not fit, so every new connection is dropped and status says so.
 */
public record EndpointPolicy(String pod, int endpointId, int identity, boolean enforceIngress, boolean enforceEgress,
                             int defaultDenyIngressRule, int defaultDenyEgressRule, boolean failClosed, List<PolicyEntry> entries) {
}
