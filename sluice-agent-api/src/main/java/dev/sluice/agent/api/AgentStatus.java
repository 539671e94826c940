package dev.sluice.agent.api;

import java.util.List;
import java.util.Map;

/**
 * What a node's agent reports: the endpoints it registered and one line per subsystem, in the form
 * `cilium status` prints. Written by the agent after each sync and as a heartbeat, read by `sluice status`;
 * {@code appliedVersion} is the version of the cluster view the agent last applied (in the lab, its state's
 * modification time), and
 * {@code failures} what of it did not apply, so the lab can wait for a change to reach every datapath and
 * say where it did not.
 */
public record AgentStatus(String node, long pid, long startedEpochMs, long heartbeatEpochMs, long appliedVersion,
                          List<Endpoint> endpoints, List<Line> lines, List<String> warnings, java.util.Map<Integer, String> policyRules,
                          List<Failure> failures, Map<String, Latencies> changeLatency) {

    public AgentStatus {
        failures = failures == null ? List.of() : List.copyOf(failures);
        changeLatency = changeLatency == null ? Map.of() : Map.copyOf(changeLatency);
    }

    /**
     * How long the agent took to apply changes of one sort (pods, services, policies, other): from its
     * source learning of a change to the last map write.
     *
     * @param count         how many changes of that sort were timed since the agent started
     * @param recentMillis  the last (up to 1,024) of them, oldest first: a benchmark takes those after its warm-up
     */
    public record Latencies(long count, List<Double> recentMillis) {
    }

    /**
     * A subsystem that could not apply the view of {@code appliedVersion}: it keeps what it had
     * (policy fails closed), and `lab apply` reports it with the node.
     */
    public record Failure(String subsystem, String reason) {
    }

    /** A pod of this node as the agent registered it. */
    public record Endpoint(String namespace, String pod, String ip, Map<String, String> labels, boolean running) {
    }

    /** One `Key: value` line of status. */
    public record Line(String key, String value) {
    }
}
