package dev.sluice.model.cluster;

import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Where an agent's picture of the cluster comes from: the lab's state, or (later) the Kubernetes API.
 * Whatever the source, the agent runs one code path on the changes it delivers.
 */
public interface ClusterSource extends AutoCloseable {

    /**
     * Waits at most {@code timeoutMs} for the next change. The first call returns the whole cluster as
     * upserts followed by {@link ClusterEvent.Synced}, at once.
     *
     * @return the change, or empty if nothing changed in time
     * @throws Gone if the cluster no longer exists (the lab was taken down): the agent stops
     */
    Optional<ClusterChange> next(long timeoutMs) throws InterruptedException;

    /**
     * Why the source cannot follow the cluster now (the Kubernetes API server is unreachable), or empty. The
     * view it delivered last stays in force meanwhile; the agent shows the reason in its status.
     */
    default Optional<String> degraded() {
        return Optional.empty();
    }

    @Override
    void close();

    /**
     * Publishes {@code key=value} on this source's own node for the other nodes' agents to see (in
     * {@link ClusterView.Node#annotations()}), as an agent annotates its Kubernetes node; an empty value removes it.
     *
     * @return false when it could not be done now (the cluster's state is busy): try again later
     * @throws UnsupportedOperationException when this source cannot publish anything
     */
    default boolean annotateNode(String key, String value) {
        throw new UnsupportedOperationException("this cluster source cannot publish node annotations");
    }

    /** The cluster is gone for good. */
    final class Gone extends RuntimeException {
        public Gone(String message) {
            super(message);
        }
    }

    /** Makes sources of one kind; registered as a {@link ServiceLoader} service. */
    interface Provider {
        /** The name agents are started with ({@code --source NAME}). */
        String name();

        ClusterSource open(String cluster, String node);
    }

    /** Opens the source named {@code provider} for {@code node} of {@code cluster}. */
    static ClusterSource open(String provider, String cluster, String node) {
        return ServiceLoader.load(Provider.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals(provider)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no cluster source '" + provider + "' on the class path"))
                .open(cluster, node);
    }
}
