package dev.sluice.agent.lb;

import dev.sluice.model.ContainerPort;

import java.util.List;
import java.util.Map;

/** A pod as load balancing needs it: where it is, what it is labelled, which ports it names, whether it is ready. */
public record Endpoint(String namespace, String pod, String address, Map<String, String> labels, List<ContainerPort> ports,
                       boolean ready) {
}
