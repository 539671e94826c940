package dev.sluice.install;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The rendered objects as a kustomize base: one file per object and a kustomization.yaml naming them in apply order.
 * deploy/kustomize/base is this for the chart's default values ({@code scripts/render-deploy} writes it, and a test
 * fails when it differs from what the renderer makes).
 */
public final class KustomizeBase {
    public static final String HEADER = "# Rendered by `sluice install --values deploy/helm/sluice/values.yaml --output-dir deploy/kustomize/base`\n"
            + "# (scripts/render-deploy); do not edit: change the renderer (sluice-install) and render again.\n";

    private KustomizeBase() {
    }

    /** Writes the base into {@code dir} (made if missing); files of objects no longer rendered are removed. */
    public static List<Path> write(List<HasMetadata> objects, Path dir) throws IOException {
        Files.createDirectories(dir);
        try (var old = Files.list(dir)) {
            for (Path p : old.filter(p -> p.getFileName().toString().endsWith(".yaml")).toList()) {
                Files.delete(p);
            }
        }
        StringBuilder kustomization = new StringBuilder(HEADER)
                .append("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
        List<Path> written = new java.util.ArrayList<>();
        for (HasMetadata o : objects) {
            String name = SluiceManifests.fileName(o);
            Path file = dir.resolve(name);
            Files.writeString(file, HEADER + SluiceManifests.yaml(List.of(o)));
            written.add(file);
            kustomization.append("- ").append(name).append('\n');
        }
        Path k = dir.resolve("kustomization.yaml");
        Files.writeString(k, kustomization.toString());
        written.add(k);
        return written;
    }
}
