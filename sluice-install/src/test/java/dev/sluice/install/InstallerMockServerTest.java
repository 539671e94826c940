package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Installer} against fabric8's mock API server in CRUD mode: it stores what is applied and serves it back. */
@EnableKubernetesMockClient(crud = true)
class InstallerMockServerTest {
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

    /**
     * Each applied object as the server holds it, by kind/namespace/name, as YAML without what the server keeps
     * for itself (resourceVersion, uid, timestamps, generation).
     */
    private Map<String, String> stored(List<HasMetadata> objects) {
        return objects.stream().collect(Collectors.toMap(InstallerMockServerTest::id, o -> {
            HasMetadata s = client.resource(o).get();
            s.getMetadata().setResourceVersion(null);
            s.getMetadata().setUid(null);
            s.getMetadata().setCreationTimestamp(null);
            s.getMetadata().setGeneration(null);
            s.getMetadata().setManagedFields(null);
            return SluiceManifests.yaml(List.of(s));
        }));
    }

    private int allCount() {
        return client.apiextensions().v1().customResourceDefinitions().list().getItems().size()
                + client.configMaps().inAnyNamespace().list().getItems().size()
                + client.serviceAccounts().inAnyNamespace().list().getItems().size()
                + client.services().inAnyNamespace().list().getItems().size()
                + client.apps().daemonSets().inAnyNamespace().list().getItems().size()
                + client.apps().deployments().inAnyNamespace().list().getItems().size()
                + client.rbac().clusterRoles().list().getItems().size()
                + client.rbac().clusterRoleBindings().list().getItems().size();
    }

    private static String id(HasMetadata o) {
        return o.getKind() + "/" + o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
    }

    @Test
    void theSeedIsAppliedAndASecondApplyChangesNothing() throws IOException {
        List<HasMetadata> objects = SluiceManifests.render(InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE));
        List<HasMetadata> applied = new Installer(client).apply(objects);
        assertEquals(objects.size(), applied.size());
        for (HasMetadata o : objects) {
            HasMetadata stored = client.resource(o).get();
            assertNotNull(stored, id(o) + " is on the server");
        }
        DaemonSet ds = client.apps().daemonSets().inNamespace("kube-system").withName(Names.AGENT).get();
        assertEquals("kubernetes", ds.getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs().get(1));
        assertEquals(Files.readString(Repo.seedValues()),
                client.configMaps().inNamespace("kube-system").withName(Names.CONFIG).get().getData().get(Names.VALUES_FILE));
        assertNotNull(client.apps().deployments().inNamespace("kube-system").withName(Names.RELAY).get());
        assertEquals(5, client.apiextensions().v1().customResourceDefinitions().list().getItems().size());

        Map<String, String> first = stored(objects);
        for (HasMetadata o : objects) {
            // What was rendered is what the server holds.
            assertEquals(SluiceManifests.yaml(List.of(o)).replace("\n", ""), first.get(id(o)).replace("\n", ""), id(o));
        }
        int count = allCount();
        Installer again = new Installer(client);
        again.apply(SluiceManifests.render(InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE)));
        // The mock API server takes no apply patches: the fallback is what ran here.
        assertEquals(Installer.Mode.CREATE_OR_UPDATE, again.mode());
        // Same objects, none duplicated, none changed.
        assertEquals(first, stored(objects));
        assertEquals(count, allCount());
        assertEquals(1, client.apps().daemonSets().inAnyNamespace().list().getItems().size());
        assertEquals(5, client.apiextensions().v1().customResourceDefinitions().list().getItems().size());
    }

    @Test
    void changedValuesUpdateTheObjectsInPlace() throws IOException {
        new Installer(client).apply(SluiceManifests.render(InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE)));
        Path changed = dir.resolve("values.yaml");
        Files.writeString(changed, Files.readString(Repo.seedValues()).replace("socketLB:\n  enabled: true", "socketLB:\n  enabled: false"));
        new Installer(client).apply(SluiceManifests.render(InstallValues.load(changed, InstallValues.DEFAULT_NAMESPACE)));
        ConfigMap config = client.configMaps().inNamespace("kube-system").withName(Names.CONFIG).get();
        assertEquals("false", config.getData().get("bpf-lb-sock"));
        assertEquals(1, client.configMaps().inNamespace("kube-system").list().getItems().stream()
                .filter(c -> c.getMetadata().getName().equals(Names.CONFIG)).count());
        Deployment relay = client.apps().deployments().inNamespace("kube-system").withName(Names.UI).get();
        assertNotNull(relay);
        assertNull(client.apps().deployments().inNamespace("kube-system").withName("cilium-operator").get());
    }
}
