package dev.sluice.model.cluster;

import dev.sluice.model.cluster.ClusterEvent.Kind;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * One change of the cluster as a source delivers it: the events, and the view after them, so that a
 * subsystem may either follow the events or look the objects up in the view.
 *
 * @param version increases with every change of the source (the lab: its state's modification time); an
 *                agent reports the version it applied, so whoever made the change can wait for it
 */
public record ClusterChange(long version, List<ClusterEvent> events, ClusterView view, long receivedNanos) {

    /**
     * @param receivedNanos when the source learned of the change ({@link System#nanoTime()}), before it read
     *                      and compared anything: where the agent's change latency starts
     */
    public ClusterChange {
        events = List.copyOf(events);
    }

    /** A change received now. */
    public ClusterChange(long version, List<ClusterEvent> events, ClusterView view) {
        this(version, events, view, System.nanoTime());
    }

    /** The kinds of object the events touch. */
    public Set<Kind> kinds() {
        Set<Kind> kinds = EnumSet.noneOf(Kind.class);
        for (ClusterEvent e : events) {
            switch (e) {
                case ClusterEvent.Upserted u -> kinds.add(u.kind());
                case ClusterEvent.Deleted d -> kinds.add(d.kind());
                case ClusterEvent.Synced s -> kinds.addAll(EnumSet.allOf(Kind.class));
            }
        }
        return kinds;
    }

    /** Whether any event touches one of {@code kinds}. */
    public boolean touches(Kind... kinds) {
        Set<Kind> touched = kinds();
        for (Kind k : kinds) {
            if (touched.contains(k)) {
                return true;
            }
        }
        return false;
    }

    /** The same view again, as if everything changed: for a subsystem that must retry what it could not do. */
    public ClusterChange resync() {
        return new ClusterChange(version, List.of(new ClusterEvent.Synced()), view, System.nanoTime());
    }
}
