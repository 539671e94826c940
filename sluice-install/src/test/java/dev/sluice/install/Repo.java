package dev.sluice.install;

import java.nio.file.Path;

/** Files of the repository the tests read: the seed's values, the chart, the kustomize base. */
final class Repo {
    private Repo() {
    }

    static Path root() {
        return Path.of(System.getenv().getOrDefault("SLUICE_ROOT", "..")).toAbsolutePath().normalize();
    }

    static Path seedValues() {
        return root().resolve("examples/seed/cilium-values.yaml");
    }

    static Path chart() {
        return root().resolve("deploy/helm/sluice");
    }

    static Path kustomizeBase() {
        return root().resolve("deploy/kustomize/base");
    }
}
