package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What {@link Installer} sends to a server that takes apply patches: one server-side apply per object, at the object's
 * own path, as field manager {@code sluice}, forcing conflicts. (The mock server in CRUD mode has no server-side
 * apply, so here it answers as an API server would, from expectations; InstallerMockServerTest covers the rest.)
 */
@EnableKubernetesMockClient
class ServerSideApplyTest {
    /** The mock server logs every request at INFO; held here so that the setting is not collected with the logger. */
    private static final java.util.logging.Logger MOCK_LOG = quiet();

    private static java.util.logging.Logger quiet() {
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");
        log.setLevel(java.util.logging.Level.WARNING);
        return log;
    }

    KubernetesMockServer server;
    KubernetesClient client;

    private static String path(HasMetadata o) {
        String api = o.getApiVersion().contains("/") ? "/apis/" + o.getApiVersion() : "/api/" + o.getApiVersion();
        String ns = o.getMetadata().getNamespace() == null ? "" : "/namespaces/" + o.getMetadata().getNamespace();
        return api + ns + "/" + HasMetadata.getPlural(o.getClass()) + "/" + o.getMetadata().getName();
    }

    @Test
    void eachObjectIsAppliedServerSideAsSluice() throws InterruptedException {
        List<HasMetadata> objects = SluiceManifests.render(InstallValues.load(Repo.seedValues(), InstallValues.DEFAULT_NAMESPACE));
        for (HasMetadata o : objects) {
            server.expect().patch().withPath(path(o) + "?fieldManager=sluice&force=true").andReturn(200, o).once();
        }
        Installer installer = new Installer(client);
        List<HasMetadata> applied = installer.apply(objects);
        assertEquals(Installer.Mode.SERVER_SIDE_APPLY, installer.mode());
        assertEquals(objects.size(), applied.size());
        for (HasMetadata o : objects) {
            RecordedRequest r = server.takeRequest(5, TimeUnit.SECONDS);
            assertNotNull(r, "a request for " + path(o));
            assertEquals("PATCH", r.getMethod());
            assertEquals(path(o) + "?fieldManager=sluice&force=true", r.getPath());
            assertTrue(r.getHeader("Content-Type").startsWith("application/apply-patch+yaml"), r.getHeader("Content-Type"));
            assertTrue(r.getUtf8Body().contains(o.getMetadata().getName()), r.getUtf8Body());
        }
    }
}
