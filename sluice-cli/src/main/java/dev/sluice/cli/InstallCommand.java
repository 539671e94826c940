package dev.sluice.cli;

import dev.sluice.install.InstallValues;
import dev.sluice.install.Installer;
import dev.sluice.install.KeyOutcome;
import dev.sluice.install.KustomizeBase;
import dev.sluice.install.SluiceManifests;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sluice install}: the objects that run Sluice on a Kubernetes cluster, rendered from a Helm-style values
 * file (the seed's cilium-values.yaml as it is), printed ({@code --dry-run}), written as a kustomize base
 * ({@code --output-dir}), or applied to the cluster of the kubeconfig. What became of each key goes to stderr.
 */
@Command(name = "install", description = "Render Sluice's Kubernetes objects from a values file and apply them (server-side apply).")
final class InstallCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--values", required = true, paramLabel = "FILE", description = "Helm-style values (e.g. cilium-values.yaml).")
    Path values;

    @Option(names = "--dry-run", description = "Print the objects as YAML instead of applying them.")
    boolean dryRun;

    @Option(names = "--output-dir", paramLabel = "DIR", description = "Write the objects as a kustomize base into DIR instead of applying them.")
    Path outputDir;

    @Option(names = "--kubeconfig", paramLabel = "FILE", description = "The kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config), its current context.")
    Path kubeconfig;

    @Option(names = {"-n", "--namespace"}, defaultValue = InstallValues.DEFAULT_NAMESPACE, description = "Namespace of the namespaced objects (default: ${DEFAULT-VALUE}).")
    String namespace;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        InstallValues read = InstallValues.load(values, namespace);
        List<HasMetadata> objects = SluiceManifests.render(read);
        err.println("values (" + values + "):");
        for (KeyOutcome o : read.report()) {
            err.println("  " + o);
        }
        if (dryRun) {
            out.print(SluiceManifests.yaml(objects));
            out.flush();
            return 0;
        }
        if (outputDir != null) {
            List<Path> files = KustomizeBase.write(objects, outputDir);
            out.println("wrote " + files.size() + " files to " + outputDir);
            return 0;
        }
        try (KubernetesClient client = client()) {
            List<HasMetadata> applied = new Installer(client).apply(objects);
            for (HasMetadata o : applied) {
                String ns = o.getMetadata().getNamespace();
                out.println(o.getKind() + " " + (ns == null ? "" : ns + "/") + o.getMetadata().getName() + " applied");
            }
            out.println(applied.size() + " objects applied to " + client.getMasterUrl());
        }
        return 0;
    }

    private KubernetesClient client() throws IOException {
        Config config = kubeconfig == null ? Config.autoConfigure(null) : Config.fromKubeconfig(Files.readString(kubeconfig));
        return new KubernetesClientBuilder().withConfig(config).build();
    }
}
