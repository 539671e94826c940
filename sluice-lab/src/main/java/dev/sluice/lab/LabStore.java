package dev.sluice.lab;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where labs keep their state: one directory per lab under /run/sluice/labs (or $SLUICE_LAB_ROOT),
 * holding state.json, the hosts files, logs and agent status. Changes happen under an exclusive file
 * lock, and state.json is replaced atomically, so two shells never interleave a change.
 */
public final class LabStore {
    static final ObjectMapper JSON = new ObjectMapper()
            .findAndRegisterModules()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final Path dir;

    LabStore(Path dir) {
        this.dir = dir;
    }

    public static Path root() {
        String env = System.getenv("SLUICE_LAB_ROOT");
        return Path.of(env == null || env.isBlank() ? "/run/sluice/labs" : env);
    }

    public static LabStore of(String lab) {
        return new LabStore(root().resolve(lab));
    }

    public Path dir() {
        return dir;
    }

    public Path logs() {
        return dir.resolve("logs");
    }

    /** The /etc/hosts of one pod (its own name, and Service names as seen from its namespace). */
    public Path hostsFile(String namespace, String pod) {
        return dir.resolve("hosts").resolve(namespace + "_" + pod);
    }

    /** The /etc/resolv.conf of the namespace's pods (cluster DNS, its search path). */
    public Path resolvFile(String namespace) {
        return dir.resolve("resolv").resolve(namespace);
    }

    /**
     * The state's version: its modification time in nanoseconds (tmpfs keeps them), so that two changes
     * in one millisecond are still two versions; {@link #write} makes sure it goes up with every write.
     * Agents report the version they applied.
     */
    public long version() throws IOException {
        return Files.getLastModifiedTime(dir.resolve("state.json")).to(java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** Every process the lab started, as started (see {@link LabProcesses#start(List, java.util.Map, Path, Path)}). */
    Path processJournal() {
        return dir.resolve("processes");
    }

    public boolean exists() {
        return Files.exists(dir.resolve("state.json"));
    }

    public Optional<LabState> read() {
        Path file = dir.resolve("state.json");
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(file.toFile(), LabState.class));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read lab state " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Replaces the state, and first appends what it changes in the cluster view to the change log
     * ({@link ChangeLog}), under the version the new state will have: a rename keeps the file's modification
     * time, so the version is known before the state is in place, and an agent woken by the rename finds
     * the line already written.
     */
    void write(LabState state) {
        try {
            ensureDir();
            Path tmp = dir.resolve("state.json.tmp");
            JSON.writeValue(tmp.toFile(), state);
            long version = Files.getLastModifiedTime(tmp).to(java.util.concurrent.TimeUnit.NANOSECONDS);
            Optional<Written> before = previous();
            if (before.isPresent() && version <= before.get().version()) {
                // A file system may stamp two writes in one clock tick alike (coarse timestamps), or the clock
                // may step back: a version that did not move would hide this change from every agent, and
                // `lab apply` would find it "applied" at once. Versions only go up.
                version = before.get().version() + 1;
                Files.setLastModifiedTime(tmp, java.nio.file.attribute.FileTime.from(version, java.util.concurrent.TimeUnit.NANOSECONDS));
                if (Files.getLastModifiedTime(tmp).to(java.util.concurrent.TimeUnit.NANOSECONDS) != version) {
                    throw new IOException("the file system does not keep nanosecond modification times: " + tmp);
                }
            }
            if (before.isPresent()) {
                changeLog().append(ViewDelta.between(before.get().version(), before.get().view(), version, LabView.of(state)));
            }
            Files.move(tmp, dir.resolve("state.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            written = new Written(version, state, LabView.of(state));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write lab state in " + dir, e);
        }
    }

    /** The state this store last wrote, with its view, while it is still the one on disk. */
    private record Written(long version, LabState state, dev.sluice.model.cluster.ClusterView view) {
    }

    private Written written;

    /** The state in force and its view: the one this store wrote last, or else read from disk. */
    private Optional<Written> previous() throws IOException {
        if (!exists()) {
            return Optional.empty();
        }
        long version = version();
        if (written != null && written.version() == version) {
            return Optional.of(written);
        }
        return read().map(s -> new Written(version, s, LabView.of(s)));
    }

    /** The lab's change log, which agents follow (see {@link LabClusterSource}). */
    ChangeLog changeLog() {
        return new ChangeLog(dir.resolve("changes.jsonl"));
    }

    /**
     * Makes the lab's directory, readable by root only: it holds pod and agent logs (which may carry a
     * workload's secrets), the agents' status and their Observer sockets, which serve every flow.
     */
    private void ensureDir() throws IOException {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    }

    /** Makes the lab's directory again (after what a broken lab left was removed from under a held lock). */
    void recreateDir() {
        try {
            ensureDir();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
    }

    /** Holds the lab's lock until closed. */
    final class Lock implements AutoCloseable {
        private final FileChannel channel;
        private final FileLock lock;

        private Lock() throws IOException {
            this(true);
        }

        private Lock(boolean block) throws IOException {
            ensureDir();
            channel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            lock = block ? channel.lock() : channel.tryLock();
            if (lock == null) {
                channel.close();
            }
        }

        @Override
        public void close() {
            try {
                lock.release();
                channel.close();
            } catch (IOException ignored) {
                // the lock goes with the channel
            }
        }
    }

    Lock lock() {
        try {
            return new Lock();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock lab " + dir, e);
        }
    }

    /** The lock if no one else holds it now (the kubelet does not wait while `lab apply` works). */
    Optional<Lock> tryLock() {
        try {
            Lock l = new Lock(false);
            return l.lock == null ? Optional.empty() : Optional.of(l);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock lab " + dir, e);
        }
    }

    /** What each node's kubelet reports of its pods' probes ({@link KubeletReport}). */
    Path kubeletReport(String node) {
        return dir.resolve("kubelet").resolve(node + ".json");
    }

    void deleteAll() {
        deleteTree(dir);
    }

    /** Removes a directory and everything below it (also a tree of pins on bpffs). */
    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + root, e);
        }
    }
}
