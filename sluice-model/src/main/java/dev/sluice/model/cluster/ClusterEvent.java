package dev.sluice.model.cluster;

/**
 * What changed in the cluster, one object at a time, as informers report it: an object added or updated,
 * an object deleted, or the end of the initial listing.
 */
public sealed interface ClusterEvent {

    /** An object of {@code kind} named {@code key} ({@code namespace/name}, or the name of a cluster-scoped one) is new or changed. */
    record Upserted(Kind kind, String key) implements ClusterEvent {
    }

    /** The object of {@code kind} named {@code key} is gone. */
    record Deleted(Kind kind, String key) implements ClusterEvent {
    }

    /** Every object that existed when the source started has been reported: what is absent now is really absent. */
    record Synced() implements ClusterEvent {
    }

    /** The kinds of object a view holds. */
    enum Kind {
        NODE, NAMESPACE, POD, SERVICE, OBJECT
    }
}
