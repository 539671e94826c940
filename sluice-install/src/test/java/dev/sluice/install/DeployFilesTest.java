package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files under deploy/ are the renderer's output: the kustomize base for the chart's default values, the chart's
 * CRDs. Run with {@code SLUICE_RENDER_DEPLOY=1} (scripts/render-deploy) to write them instead of comparing.
 */
class DeployFilesTest {
    private static final boolean RENDER = "1".equals(System.getenv("SLUICE_RENDER_DEPLOY"));

    @TempDir
    Path dir;

    private static List<HasMetadata> chartDefaults() {
        return SluiceManifests.render(InstallValues.load(Repo.chart().resolve("values.yaml"), InstallValues.DEFAULT_NAMESPACE));
    }

    @Test
    void theChartsDefaultValuesAreAllRendered() {
        InstallValues defaults = InstallValues.load(Repo.chart().resolve("values.yaml"), InstallValues.DEFAULT_NAMESPACE);
        assertEquals(List.of(), defaults.unsupported());
        // Nor does the agent, reading the same file from the ConfigMap, meet a key it does not know.
        assertEquals(List.of(), defaults.agent().warnings().stream().filter(w -> w.contains("unknown key")).toList());
    }

    @Test
    void theKustomizeBaseIsTheRenderersOutputForTheChartDefaults() throws IOException {
        Path target = RENDER ? Repo.kustomizeBase() : dir;
        KustomizeBase.write(chartDefaults(), target);
        if (RENDER) {
            return;
        }
        Set<String> rendered = files(dir);
        assertEquals(rendered, files(Repo.kustomizeBase()), "deploy/kustomize/base is stale: run scripts/render-deploy");
        for (String f : rendered) {
            assertEquals(Files.readString(dir.resolve(f)), Files.readString(Repo.kustomizeBase().resolve(f)),
                    f + " is stale: run scripts/render-deploy");
        }
    }

    @Test
    void theChartsCrdsAreTheRenderersCrds() throws IOException {
        Path crds = Repo.chart().resolve("crds");
        List<CustomResourceDefinition> all = CiliumCrds.all(true);
        if (RENDER) {
            Files.createDirectories(crds);
            for (CustomResourceDefinition crd : all) {
                Files.writeString(crds.resolve(crd.getSpec().getNames().getPlural() + ".yaml"), KustomizeBase.HEADER + SluiceManifests.yaml(List.of(crd)));
            }
            return;
        }
        assertEquals(all.stream().map(c -> c.getSpec().getNames().getPlural() + ".yaml").collect(Collectors.toCollection(TreeSet::new)), files(crds));
        for (CustomResourceDefinition crd : all) {
            assertEquals(KustomizeBase.HEADER + SluiceManifests.yaml(List.of(crd)),
                    Files.readString(crds.resolve(crd.getSpec().getNames().getPlural() + ".yaml")), "the chart's crds/ is stale: run scripts/render-deploy");
        }
    }

    @Test
    void kubectlKustomizeRendersTheBaseAndEveryObjectParsesAsItsKind() throws Exception {
        Process kubectl = new ProcessBuilder("kubectl", "kustomize", Repo.kustomizeBase().toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(kubectl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(kubectl.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, kubectl.exitValue(), "kubectl kustomize failed");
        List<HasMetadata> parsed = Parsing.objects(out);
        List<HasMetadata> expected = chartDefaults();
        assertEquals(ids(expected), ids(parsed));
        for (HasMetadata o : parsed) {
            HasMetadata same = expected.stream().filter(e -> id(e).equals(id(o))).findFirst().orElseThrow();
            assertEquals(same.getClass(), o.getClass(), id(o));
            // kubectl sorts keys; as trees (key order aside) nothing is lost or changed.
            assertEquals(Serialization.jsonMapper().valueToTree(same), Serialization.jsonMapper().valueToTree(o), id(o));
        }
        assertNotEquals(0, parsed.size());
    }

    private static Set<String> ids(List<HasMetadata> objects) {
        return objects.stream().map(DeployFilesTest::id).collect(Collectors.toCollection(TreeSet::new));
    }

    private static String id(HasMetadata o) {
        return o.getApiVersion() + " " + o.getKind() + " " + o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
    }

    private static Set<String> files(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml")).collect(Collectors.toCollection(TreeSet::new));
        }
    }
}
