package dev.sluice.lab;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.TimeUnit;

/**
 * Wakes a lab agent's cluster source when the lab's state file changes (inotify, through a WatchService on its directory),
 * so that an idle agent does no work: the lab replaces the file with an atomic rename, which arrives here
 * as a create of the file's name. Events on other files of the directory are ignored.
 */
final class StateWatcher implements AutoCloseable {
    private final WatchService watch;
    private final Path name;

    StateWatcher(Path file) throws IOException {
        this.watch = FileSystems.getDefault().newWatchService();
        this.name = file.getFileName();
        file.getParent().register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
    }

    /** Waits at most {@code timeoutMs} for the file to change; true if it did (or if events were lost). */
    boolean await(long timeoutMs) throws InterruptedException {
        WatchKey key = watch.poll(Math.max(0, timeoutMs), TimeUnit.MILLISECONDS);
        boolean changed = false;
        while (key != null) {
            for (WatchEvent<?> event : key.pollEvents()) {
                changed |= event.kind() == StandardWatchEventKinds.OVERFLOW || name.equals(event.context());
            }
            key.reset();
            key = watch.poll();
        }
        return changed;
    }

    @Override
    public void close() throws IOException {
        watch.close();
    }
}
