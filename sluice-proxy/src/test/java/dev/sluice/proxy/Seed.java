package dev.sluice.proxy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.Desired;
import dev.sluice.model.DeploymentSpec;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.cluster.ClusterView;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** The seed's product-service and canary manifests, read unmodified from {@code examples/seed/}. */
public final class Seed {
    private Seed() {
    }

    public static Path root() {
        String env = System.getenv("SLUICE_ROOT");
        Path dir = env != null ? Path.of(env) : Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("examples/seed"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("examples/seed not found above " + Path.of("").toAbsolutePath());
        }
        return dir;
    }

    public static Desired read(Consumer<String> warnings) {
        Path seed = root().resolve("examples/seed");
        return ManifestReader.read(List.of(seed.resolve("product-service.yaml"), seed.resolve("canary-routing.yaml")), warnings);
    }

    /**
     * A view of the seed: each Deployment's replicas as ready pods owned by it, with addresses from {@code ip}
     * (given the Deployment's index and the replica's), and the Service with a ClusterIP.
     */
    public static ClusterView view(Desired desired, AddressPlan ip) {
        List<ClusterView.Pod> pods = new ArrayList<>();
        List<DeploymentSpec> deployments = desired.deployments();
        for (int d = 0; d < deployments.size(); d++) {
            DeploymentSpec deployment = deployments.get(d);
            List<ContainerPort> ports = deployment.template().containers().stream().flatMap(c -> c.ports().stream()).toList();
            for (int r = 0; r < deployment.replicas(); r++) {
                String name = deployment.ref().name() + "-" + r;
                pods.add(new ClusterView.Pod(deployment.ref().namespace(), name, "node-1", ip.address(d, r), "veth-" + name, "",
                        deployment.template().labels(), ports, true, true, deployment.ref().name()));
            }
        }
        return new ClusterView(List.of(new ClusterView.Node("node-1", "10.0.0.1", "10.1.0.0/24", "10.1.0.1")),
                desired.namespaces(), pods, desired.services(), Map.of("default/product-service", "10.96.0.10"),
                desired.others());
    }

    /** Where replica {@code replica} of the {@code deployment}-th Deployment listens. */
    @FunctionalInterface
    public interface AddressPlan {
        String address(int deployment, int replica);
    }

}
