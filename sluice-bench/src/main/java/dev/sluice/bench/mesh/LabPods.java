package dev.sluice.bench.mesh;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

/**
 * What the benchmark needs to know of a lab: the client pod, the Service's server pods, the node's namespace, the
 * agent's cgroup and the Service's ClusterIP. Read once after {@code lab up}: the benchmark changes no pod.
 */
record LabPods(Lab lab, Pod client, List<Pod> servers, Netns node, Path cgroupRoot, Path agentCgroup, String clusterIp) {
    static final String SERVICE = "default/product-service";

    /** A pod by what the benchmark uses of it. */
    record Pod(String name, String ip, Netns netns, Path cgroup) {
        static Pod of(PodState p) {
            return new Pod(p.name(), p.ip(), new Netns(p.netns()), Path.of(p.cgroup()));
        }
    }

    static LabPods of(Lab lab) {
        LabState state = lab.state();
        PodState client = lab.pod("deploy/client");
        List<Pod> servers = state.pods().stream().filter(p -> "product-service".equals(p.labels().get("app")))
                .sorted(Comparator.comparing(PodState::name)).map(Pod::of).toList();
        if (servers.isEmpty()) {
            throw new IllegalStateException("lab " + lab.name() + " has no product-service pods");
        }
        String vip = state.clusterIps().get(SERVICE);
        if (vip == null) {
            throw new IllegalStateException("lab " + lab.name() + " has no ClusterIP for " + SERVICE + ": " + state.clusterIps());
        }
        LabState.NodeState node = state.node(client.node()).orElseThrow();
        Path root = Path.of(state.cgroupRoot());
        return new LabPods(lab, Pod.of(client), servers, new Netns(node.netns()), root, root.resolve("agents").resolve(node.name()), vip);
    }
}
