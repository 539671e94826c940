package dev.sluice.agent;

import java.util.List;
import java.util.Map;

/**
 * What a node's agent reports: the endpoints it registered and one line per subsystem, in the form
 * `cilium status` prints. Written by the agent after each sync, read by `sluice status`; {@code observedStateMillis}
 * is the modification time of the lab state the agent last applied, so the lab can wait for a change to
 * reach every datapath.
 */
public record AgentStatus(String node, long pid, long startedEpochMs, long heartbeatEpochMs, long observedStateMillis,
                          List<Endpoint> endpoints, List<Line> lines, List<String> warnings, java.util.Map<Integer, String> policyRules) {

    /** A pod of this node as the agent registered it. */
    public record Endpoint(String namespace, String pod, String ip, Map<String, String> labels, boolean running) {
    }

    /** One `Key: value` line of status. */
    public record Line(String key, String value) {
    }
}
