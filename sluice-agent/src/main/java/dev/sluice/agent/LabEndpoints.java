package dev.sluice.agent;

import dev.sluice.agent.lb.Endpoint;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.PodTemplate;

import java.util.List;
import java.util.Optional;

/** The lab as a source of endpoints: every pod with its addresses, labels, named ports and readiness. */
final class LabEndpoints {
    private LabEndpoints() {
    }

    static List<Endpoint> of(LabState state) {
        return state.pods().stream().map(p -> new Endpoint(p.namespace(), p.name(), p.ip(), p.labels(), ports(state, p),
                p.ready() && Lab.running(p))).toList();
    }

    /** The container ports a pod declares (from its Deployment's or its own template). */
    static List<ContainerPort> ports(LabState state, PodState pod) {
        return template(state, pod).map(t -> t.containers().stream().flatMap(c -> c.ports().stream()).toList())
                .orElse(List.<ContainerPort>of());
    }

    private static Optional<PodTemplate> template(LabState state, PodState pod) {
        if (pod.owner() != null) {
            return state.desired().deployments().stream()
                    .filter(d -> d.ref().namespace().equals(pod.namespace()) && d.ref().name().equals(pod.owner()))
                    .map(d -> d.template()).findFirst();
        }
        return state.desired().pods().stream()
                .filter(p -> p.ref().namespace().equals(pod.namespace()) && p.ref().name().equals(pod.name()))
                .map(p -> p.template()).findFirst();
    }

}
