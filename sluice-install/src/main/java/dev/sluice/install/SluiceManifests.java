package dev.sluice.install;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Every object that installs Sluice, rendered from the values: the one code path behind {@code sluice install},
 * its {@code --dry-run}, and the kustomize base under deploy/ (this output for the chart's default values).
 * In apply order: what others refer to comes first (CRDs, namespace, RBAC, ConfigMaps), then the workloads.
 */
public final class SluiceManifests {
    private SluiceManifests() {
    }

    public static List<HasMetadata> render(InstallValues values) {
        List<HasMetadata> objects = new ArrayList<>(CiliumCrds.all(values.agent().serviceMesh()));
        if (!List.of("kube-system", "default").contains(values.namespace())) {
            objects.add(new NamespaceBuilder().withNewMetadata().withName(values.namespace())
                    .withLabels(java.util.Map.of(Names.PART_OF, "sluice")).endMetadata().build());
        }
        objects.addAll(AgentRbac.objects(values));
        ConfigMap config = AgentConfig.agent(values);
        ConfigMap cni = AgentConfig.cni(values);
        objects.add(config);
        objects.add(cni);
        objects.add(AgentDaemonSet.of(values, AgentConfig.checksum(config, cni)));
        objects.addAll(ObserverServices.of(values));
        objects.addAll(RelayAndUi.of(values));
        return objects;
    }

    /** The objects as one YAML stream, what {@code --dry-run} prints and users diff before applying. */
    public static String yaml(List<HasMetadata> objects) {
        StringBuilder out = new StringBuilder();
        for (HasMetadata o : objects) {
            String doc = Serialization.asYaml(o);
            out.append(doc.startsWith("---") ? doc : "---\n" + doc);
            if (!doc.endsWith("\n")) {
                out.append('\n');
            }
        }
        return out.toString();
    }

    /** A file name for an object in a kustomize base: {@code daemonset-sluice-agent.yaml}. */
    public static String fileName(HasMetadata o) {
        return o.getKind().toLowerCase(Locale.ROOT) + "-" + o.getMetadata().getName() + ".yaml";
    }
}
