package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * deploy/Dockerfile puts things where the rendered objects look for them (no image can be built on this machine: no
 * container runtime, no registry but Debian's and Maven Central; the paths are what can be checked here).
 */
class DockerfileTest {
    private static List<String> lines() throws IOException {
        return Files.readAllLines(Repo.root().resolve("deploy/Dockerfile")).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
    }

    @Test
    void oneJreBaseAndNoOtherRegistry() throws IOException {
        List<String> from = lines().stream().filter(l -> l.startsWith("FROM ")).toList();
        assertEquals(List.of("FROM eclipse-temurin:25-jre"), from);
        assertFalse(lines().stream().anyMatch(l -> l.matches(".*\\b[a-z0-9-]+\\.[a-z]{2,}/.*") && !l.contains("/opt/") && !l.contains("/usr/")),
                "no registry host named");
    }

    @Test
    void theImageHoldsWhatTheDaemonSetRuns() throws IOException {
        String dockerfile = String.join("\n", lines());
        assertTrue(dockerfile.contains("COPY sluice-cli/target/sluice.jar " + Names.JAR), dockerfile);
        assertTrue(dockerfile.contains("/opt/sluice/cni/" + Names.CNI_BINARY), dockerfile);
        assertTrue(dockerfile.contains("/opt/sluice/cni/" + Names.CNI_JAR), dockerfile);
        assertTrue(dockerfile.contains("COPY --chmod=0755 deploy/image/install-cni " + Names.INSTALL_CNI), dockerfile);
        assertTrue(dockerfile.contains("libbpf1"), "the agent needs libbpf.so.1");
        DaemonSet ds = SluiceManifests.render(InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE)).stream()
                .filter(DaemonSet.class::isInstance).map(DaemonSet.class::cast).findFirst().orElseThrow();
        Container agent = ds.getSpec().getTemplate().getSpec().getContainers().getFirst();
        assertTrue(agent.getCommand().contains(Names.JAR));
        assertEquals(List.of(Names.INSTALL_CNI), ds.getSpec().getTemplate().getSpec().getInitContainers().get(1).getCommand());
    }

    @Test
    void theJarTheImageCopiesHasTheAgentsMainClass() {
        // The class the DaemonSet names is on this module's test class path only through the CLI jar's contents; its
        // name is checked against the agent's source instead.
        assertTrue(Files.exists(Repo.root().resolve("sluice-agent/src/main/java/" + AgentDaemonSet.MAIN_CLASS.replace('.', '/') + ".java")));
    }
}
