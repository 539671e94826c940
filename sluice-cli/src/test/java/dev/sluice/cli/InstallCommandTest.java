package dev.sluice.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code sluice install} as a user runs it: the seed's values, --dry-run, and applying through a kubeconfig. */
@EnableKubernetesMockClient(crud = true)
class InstallCommandTest {
    /** The mock server logs every request at INFO; held here so that the setting is not collected with the logger. */
    private static final java.util.logging.Logger MOCK_LOG = quiet();

    private static java.util.logging.Logger quiet() {
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");
        log.setLevel(java.util.logging.Level.WARNING);
        return log;
    }

    KubernetesMockServer server;
    KubernetesClient client;

    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static Path seed() {
        return Path.of(System.getenv().getOrDefault("SLUICE_ROOT", "..")).resolve("examples/seed/cilium-values.yaml");
    }

    @Test
    void dryRunPrintsObjectsThatParseAndReportsEveryKey() {
        Run r = run("install", "--values", seed().toString(), "--dry-run");
        assertEquals(0, r.code(), r.err());
        List<HasMetadata> objects = new ArrayList<>();
        for (String doc : r.out().split("(?m)^---\\s*$")) {
            if (!doc.isBlank()) {
                KubernetesResource o = Serialization.unmarshal(doc);
                objects.add((HasMetadata) o);
            }
        }
        assertTrue(objects.stream().anyMatch(o -> o instanceof DaemonSet), r.out());
        assertEquals(17, objects.size(), objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList().toString());
        for (String key : List.of("kubeProxyReplacement", "hubble.enabled", "hubble.relay.enabled", "hubble.ui.enabled",
                "securityContext.privileged", "bpf.preallocateMaps", "operator.replicas", "serviceMesh.enabled", "serviceMesh.proxy",
                "socketLB.enabled", "encryption.enabled", "encryption.type")) {
            assertTrue(r.err().contains("  " + key + ": "), key + " in\n" + r.err());
        }
        assertTrue(r.err().contains("operator.replicas: unsupported: "), r.err());
    }

    @Test
    void outputDirWritesAKustomizeBaseOfTheSameObjects() throws IOException {
        Path base = dir.resolve("base");
        Run r = run("install", "--values", seed().toString(), "--output-dir", base.toString());
        assertEquals(0, r.code(), r.err());
        List<String> resources = Files.readAllLines(base.resolve("kustomization.yaml")).stream()
                .filter(l -> l.startsWith("- ")).map(l -> l.substring(2)).toList();
        assertEquals(17, resources.size());
        for (String f : resources) {
            assertTrue(Files.exists(base.resolve(f)), f);
        }
        assertTrue(resources.contains("daemonset-sluice-agent.yaml"), resources.toString());
    }

    @Test
    void badValuesNameTheFileAndTheField() throws IOException {
        Path bad = dir.resolve("values.yaml");
        Files.writeString(bad, "hubble:\n  relay:\n    enabled: maybe\n");
        Run r = run("install", "--values", bad.toString(), "--dry-run");
        assertEquals(1, r.code());
        assertTrue(r.err().contains(bad + ": key hubble.relay.enabled: must be true or false"), r.err());
    }

    @Test
    void appliesToTheClusterOfTheKubeconfigAndAgainIdempotently() throws IOException {
        Path kubeconfig = dir.resolve("kubeconfig");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster:
                    server: %s
                    insecure-skip-tls-verify: true
                users:
                - name: admin
                  user:
                    token: mock
                contexts:
                - name: mock
                  context:
                    cluster: mock
                    user: admin
                current-context: mock
                """.formatted(client.getMasterUrl()));
        Run first = run("install", "--values", seed().toString(), "--kubeconfig", kubeconfig.toString());
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("17 objects applied"), first.out());
        DaemonSet ds = client.apps().daemonSets().inNamespace("kube-system").withName("sluice-agent").get();
        assertNotNull(ds);
        Run second = run("install", "--values", seed().toString(), "--kubeconfig", kubeconfig.toString());
        assertEquals(0, second.code(), second.err());
        assertEquals(1, client.apps().daemonSets().inAnyNamespace().list().getItems().size());
        assertEquals(ds.getSpec(), client.apps().daemonSets().inNamespace("kube-system").withName("sluice-agent").get().getSpec());
    }
}
