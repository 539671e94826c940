package dev.sluice.install;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the rendered objects to a cluster with server-side apply, under the field manager {@code sluice}: an
 * object that exists is brought to what the values say, one that does not is created, and applying the same values
 * again changes nothing. Objects the installer rendered before but no longer renders (a relay turned off) are not
 * deleted: {@code --dry-run} shows what is rendered, and removing is left to the user.
 */
public final class Installer {
    public static final String FIELD_MANAGER = "sluice";

    private final KubernetesClient client;

    public Installer(KubernetesClient client) {
        this.client = client;
    }

    /** @return each object as the API server holds it after the apply, in the order applied */
    public List<HasMetadata> apply(List<HasMetadata> objects) {
        List<HasMetadata> applied = new ArrayList<>();
        for (HasMetadata o : objects) {
            applied.add(client.resource(o).fieldManager(FIELD_MANAGER).forceConflicts().serverSideApply());
        }
        return applied;
    }
}
