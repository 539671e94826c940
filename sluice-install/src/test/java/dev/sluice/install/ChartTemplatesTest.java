package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Helm chart's templates render the same objects as {@code sluice install} for the same values (the user's
 * merged over the chart's defaults, as Helm merges them), rendered with {@link HelmTemplates}. CRDs are the chart's
 * crds/ (DeployFilesTest); the config checksum differs by design (Helm hashes its own YAML of the values), and the
 * values in the ConfigMap are compared as YAML trees.
 */
class ChartTemplatesTest {
    private static final YAMLMapper YAML = new YAMLMapper();

    @TempDir
    Path dir;

    static Stream<String> overrides() {
        return Stream.of(
                "seed",
                "",
                "securityContext:\n  privileged: false\nencryption:\n  enabled: true\n  type: wireguard\nk8sServiceHost: api.internal\nk8sServicePort: 443\n",
                "hubble:\n  relay:\n    enabled: true\n  ui:\n    enabled: false\nserviceMesh:\n  enabled: true\nkubeProxyReplacement: partial\n",
                "hubble:\n  enabled: false\n  relay:\n    enabled: true\nimage:\n  repository: registry.example/sluice\n  tag: v0.1.0\n  pullPolicy: Always\n",
                "hubble:\n  listenAddress: \"\"\nsocketLB:\n  enabled: false\nbpf:\n  monitorAggregation: MAXIMUM\ncluster:\n  name: east\n");
    }

    @ParameterizedTest
    @MethodSource("overrides")
    void theChartRendersWhatSluiceInstallRenders(String override) throws IOException {
        String user = override.equals("seed") ? Files.readString(Repo.seedValues()) : override;
        Map<String, Object> defaults = YAML.readValue(Repo.chart().resolve("values.yaml").toFile(), new TypeReference<>() { });
        Map<String, Object> over = user.isBlank() ? Map.of() : YAML.readValue(user, new TypeReference<>() { });
        Map<String, Object> merged = HelmTemplates.merge(defaults, over);
        Path file = dir.resolve("merged.yaml");
        YAML.writeValue(file.toFile(), merged);

        List<HasMetadata> java = SluiceManifests.render(InstallValues.load(file, "kube-system")).stream()
                .filter(o -> !(o instanceof CustomResourceDefinition)).toList();
        HelmTemplates helm = new HelmTemplates(merged, "kube-system");
        StringBuilder stream = new StringBuilder();
        try (var templates = Files.list(Repo.chart().resolve("templates"))) {
            for (Path t : templates.sorted().toList()) {
                stream.append("---\n").append(helm.render(Files.readString(t))).append('\n');
            }
        }
        List<HasMetadata> chart = Parsing.objects(stream.toString());

        Map<String, JsonNode> expected = trees(java);
        Map<String, JsonNode> actual = trees(chart);
        assertEquals(expected.keySet(), actual.keySet());
        for (String id : expected.keySet()) {
            assertEquals(expected.get(id), actual.get(id), id + "\n--- chart:\n" + stream);
        }
    }

    /** By kind/name, each object as a tree with the checksum dropped and the values file parsed. */
    private static Map<String, JsonNode> trees(List<HasMetadata> objects) throws IOException {
        Map<String, JsonNode> trees = new TreeMap<>();
        for (HasMetadata o : objects) {
            ObjectNode tree = Serialization.jsonMapper().valueToTree(o);
            if (o instanceof DaemonSet) {
                JsonNode annotations = tree.at("/spec/template/metadata/annotations");
                assertTrue(annotations.has("sluice.dev/config-sha256"), o.getKind());
                ((ObjectNode) annotations).remove("sluice.dev/config-sha256");
            }
            if (o instanceof ConfigMap c && c.getData().containsKey(Names.VALUES_FILE)) {
                ((ObjectNode) tree.get("data")).set(Names.VALUES_FILE, YAML.readTree(c.getData().get(Names.VALUES_FILE)));
            }
            trees.put(o.getKind() + "/" + o.getMetadata().getName(), tree);
        }
        return trees;
    }
}
