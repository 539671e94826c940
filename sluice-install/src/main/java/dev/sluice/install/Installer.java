package dev.sluice.install;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import java.net.HttpURLConnection;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the rendered objects to a cluster, under the field manager {@code sluice}: an object that exists is brought
 * to what the values say, one that does not is created, and applying the same values again changes nothing.
 *
 * <p>Server-side apply first, as {@code kubectl apply --server-side} does: fields other controllers set (the
 * DaemonSet controller's annotations, for one) are kept. A server that does not take apply patches (415; fabric8's
 * mock API server is one) or does not create on apply (404) gets create, else update, for that object and every
 * one after it; {@link #mode()} says which was used. Objects rendered before but no longer (a relay turned off) are
 * not deleted: {@code --dry-run} shows what is rendered, and removing is left to the user.
 */
public final class Installer {
    public static final String FIELD_MANAGER = "sluice";

    /** How the objects reached the server. */
    public enum Mode { SERVER_SIDE_APPLY, CREATE_OR_UPDATE }

    private final KubernetesClient client;
    private Mode mode = Mode.SERVER_SIDE_APPLY;

    public Installer(KubernetesClient client) {
        this.client = client;
    }

    public Mode mode() {
        return mode;
    }

    /** @return each object as the API server holds it after the apply, in the order applied */
    public List<HasMetadata> apply(List<HasMetadata> objects) {
        List<HasMetadata> applied = new ArrayList<>();
        for (HasMetadata o : objects) {
            applied.add(apply(o));
        }
        return applied;
    }

    private HasMetadata apply(HasMetadata o) {
        if (mode == Mode.SERVER_SIDE_APPLY) {
            try {
                return client.resource(o).fieldManager(FIELD_MANAGER).forceConflicts().serverSideApply();
            } catch (KubernetesClientException e) {
                if (e.getCode() != HttpURLConnection.HTTP_UNSUPPORTED_TYPE && e.getCode() != HttpURLConnection.HTTP_NOT_FOUND) {
                    throw e;
                }
                mode = Mode.CREATE_OR_UPDATE;
            }
        }
        return client.resource(o).createOr(NonDeletingOperation::update);
    }
}
