package dev.sluice.lab;

import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterDiff;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A lab as a cluster source: woken by changes of its state file (inotify), it follows the lab's change log
 * ({@link ChangeLog}: the objects each change touched, written by the lab) when the file's modification time
 * moved, and delivers them as events on the view it holds; it reads and compares the whole state only at
 * first and when the log does not lead to the state's version. The
 * version of a change is that modification time ({@link LabStore#version()}), which `lab apply` waits for in every agent's status.
 */
public final class LabClusterSource implements ClusterSource {
    private final LabStore store;
    private final Path stateFile;
    private final StateWatcher watcher;
    private ClusterView last;
    private long lastVersion = Long.MIN_VALUE;
    private ChangeLog.Reader log;
    private final java.util.ArrayDeque<ViewDelta> pending = new java.util.ArrayDeque<>();
    private long fullReads;
    /** The node whose agent reads this source: the one {@link #annotateNode} writes to; null for other readers (DNS). */
    private final String node;

    LabClusterSource(LabStore store) {
        this(store, null);
    }

    LabClusterSource(LabStore store, String node) {
        this.store = store;
        this.node = node;
        this.stateFile = store.dir().resolve("state.json");
        try {
            this.watcher = new StateWatcher(stateFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot watch " + stateFile, e);
        }
    }

    /** Registered as the source named "lab" (META-INF/services). */
    public static final class Provider implements ClusterSource.Provider {
        @Override
        public String name() {
            return "lab";
        }

        @Override
        public ClusterSource open(String cluster, String node) {
            LabStore store = LabStore.of(cluster);
            if (!store.exists()) {
                throw new Gone("no lab '" + cluster + "'");
            }
            return new LabClusterSource(store, node);
        }
    }

    /**
     * Writes the annotation into this node's entry of the lab's state, under the lab's lock, as a change every
     * agent then receives (a node upsert in the change log). It never waits for the lock: `lab apply` holds it
     * while it waits for the agents, so this agent would wait for itself; false then, and the caller retries.
     */
    @Override
    public boolean annotateNode(String key, String value) {
        if (node == null) {
            throw new UnsupportedOperationException("this lab source reads the lab for no node");
        }
        Optional<LabStore.Lock> lock = store.tryLock();
        if (lock.isEmpty()) {
            return false;
        }
        try (LabStore.Lock held = lock.get()) {
            LabState state = store.read().orElseThrow(() -> new Gone("the lab " + store.dir().getFileName() + " is gone"));
            List<LabState.NodeState> nodes = new ArrayList<>();
            boolean found = false;
            for (LabState.NodeState n : state.nodes()) {
                found |= n.name().equals(node);
                nodes.add(n.name().equals(node) ? n.annotated(key, value) : n);
            }
            if (!found) {
                throw new IllegalStateException("node " + node + " is not in lab " + state.name());
            }
            if (!nodes.equals(state.nodes())) {
                store.write(new LabState(state.name(), state.cgroupRoot(), state.fabricNetns(), nodes, state.desired(),
                        state.clusterIps(), state.pods(), state.agents(), state.valuesFile(), state.createdEpochMs(),
                        state.pending(), state.kubelets()));
            }
            return true;
        }
    }

    @Override
    public Optional<ClusterChange> next(long timeoutMs) throws InterruptedException {
        if (last != null && version() == lastVersion) {
            watcher.await(timeoutMs);
        }
        long received = System.nanoTime();
        long version = version();
        if (last != null && version == lastVersion) {
            return Optional.empty();
        }
        if (last != null) {
            Optional<ClusterChange> followed = follow(version, received);
            if (followed.isPresent()) {
                return followed;
            }
        }
        // From here on the log is read from its current end: what came before is in the state read now.
        log = store.changeLog().new Reader();
        pending.clear();
        LabState state = store.read().orElseThrow(() -> new Gone("the lab " + store.dir().getFileName() + " is gone"));
        ClusterView view = LabView.of(state);
        List<ClusterEvent> events = new ArrayList<>(ClusterDiff.between(last == null ? ClusterView.empty() : last, view));
        if (last == null) {
            events.add(new ClusterEvent.Synced());
        }
        last = view;
        lastVersion = version;
        fullReads++;
        return Optional.of(new ClusterChange(version, events, view, received));
    }

    /**
     * The change from the view held to state {@code version}, from the change log's new lines, without reading
     * the state; empty when the log does not lead there (a line missed, the log restarted): then the caller
     * reads the whole state. Lines past {@code version} (written before their state is in place) wait.
     */
    private Optional<ClusterChange> follow(long version, long received) {
        try {
            pending.addAll(log.next());
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        ClusterView view = last;
        long at = lastVersion;
        List<ClusterEvent> events = new ArrayList<>();
        while (!pending.isEmpty() && at != version) {
            ViewDelta d = pending.peekFirst();
            if (d.version() <= at) {
                pending.removeFirst();
                continue;
            }
            if (d.base() != at || d.version() > version) {
                break;
            }
            pending.removeFirst();
            view = d.applyTo(view);
            at = d.version();
            events.addAll(d.events());
        }
        if (at != version) {
            return Optional.empty();
        }
        last = view;
        lastVersion = at;
        return Optional.of(new ClusterChange(at, events, view, received));
    }

    /** How often the whole state was read (the first view, and each time the change log did not lead on). */
    long fullReads() {
        return fullReads;
    }

    private long version() {
        try {
            return store.version();
        } catch (IOException e) {
            throw new Gone("the lab's state " + stateFile + " is gone");
        }
    }

    @Override
    public void close() {
        try {
            watcher.close();
        } catch (IOException e) {
            // Nothing to keep: the watch service's descriptor is released either way.
        }
    }
}
