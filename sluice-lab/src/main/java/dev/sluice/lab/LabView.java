package dev.sluice.lab;

import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.PodTemplate;
import dev.sluice.model.cluster.ClusterView;

import java.util.List;
import java.util.Optional;

/** A lab's state as agents see a cluster: its nodes, namespaces, pods (with their ports and readiness), Services, policies. */
final class LabView {
    private LabView() {
    }

    static ClusterView of(LabState state) {
        return new ClusterView(
                state.nodes().stream().map(n -> new ClusterView.Node(n.name(), n.address(), n.podCidr(), Lab.POD_GATEWAY, n.annotations())).toList(),
                state.desired().namespaces(),
                state.pods().stream().map(p -> pod(state, p)).toList(),
                state.desired().services(),
                state.clusterIps(),
                state.desired().others());
    }

    private static ClusterView.Pod pod(LabState state, PodState p) {
        boolean running = Lab.running(p);
        return new ClusterView.Pod(p.namespace(), p.name(), p.node(), p.ip(), p.hostVeth(), p.cgroup() == null ? "" : p.cgroup(),
                p.labels(), ports(state, p), running, p.ready() && running, p.owner(), p.mac());
    }

    /** The container ports a pod declares (from its Deployment's or its own template). */
    private static List<ContainerPort> ports(LabState state, PodState pod) {
        return template(state, pod).map(t -> t.containers().stream().flatMap(c -> c.ports().stream()).toList())
                .orElse(List.<ContainerPort>of());
    }

    static Optional<PodTemplate> template(LabState state, PodState pod) {
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
