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
 * A lab as a cluster source: woken by changes of its state file (inotify), it reads the state only when
 * the file's modification time moved, and delivers the difference to the last view as events. The
 * version of a change is that modification time ({@link LabStore#version()}), which `lab apply` waits for in every agent's status.
 */
public final class LabClusterSource implements ClusterSource {
    private final LabStore store;
    private final Path stateFile;
    private final StateWatcher watcher;
    private ClusterView last;
    private long lastVersion = Long.MIN_VALUE;

    LabClusterSource(LabStore store) {
        this.store = store;
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
            return new LabClusterSource(store);
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
        LabState state = store.read().orElseThrow(() -> new Gone("the lab " + store.dir().getFileName() + " is gone"));
        ClusterView view = LabView.of(state);
        List<ClusterEvent> events = new ArrayList<>(ClusterDiff.between(last == null ? ClusterView.empty() : last, view));
        if (last == null) {
            events.add(new ClusterEvent.Synced());
        }
        last = view;
        lastVersion = version;
        return Optional.of(new ClusterChange(version, events, view, received));
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
