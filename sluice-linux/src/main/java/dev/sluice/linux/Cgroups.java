package dev.sluice.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * The cgroup v2 hierarchy. It is often not at /sys/fs/cgroup: hybrid systems mount it at
 * /sys/fs/cgroup/unified, so its place is always read from the mount table.
 */
public final class Cgroups {
    private Cgroups() {
    }

    /** Where cgroup v2 is mounted, if it is. */
    public static Optional<Path> v2Root() {
        return Mounts.firstOfType("cgroup2").map(Mounts.Mount::target);
    }

    /** The cgroup v2 root, or an error that says how to get one. */
    public static Path requireV2Root() {
        return v2Root().orElseThrow(() -> new LinuxException(
                "cgroup v2 is not mounted: mount it with 'mount -t cgroup2 none /sys/fs/cgroup/unified'"));
    }

    /** Creates {@code root/relative} (and parents); returns its absolute path. */
    public static Path create(Path relative) {
        Path dir = requireV2Root().resolve(relative);
        try {
            Files.createDirectories(dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create cgroup " + dir, e);
        }
    }

    /** How long {@link #remove(Path)} waits for a cgroup's tasks to be gone before it reports them. */
    public static final Duration REMOVE_TIMEOUT = Duration.ofSeconds(15);

    /** {@link #remove(Path, Duration)} with {@link #REMOVE_TIMEOUT}. */
    public static void remove(Path cgroup) {
        remove(cgroup, REMOVE_TIMEOUT);
    }

    /**
     * Removes a cgroup and every cgroup below it, killing what still runs there. Correct by construction
     * rather than by timing: {@code cgroup.procs} stops listing a task as soon as it starts exiting, but
     * the kernel counts it (and refuses rmdir with EBUSY) until it has left the cgroup, which for a large
     * process (a JVM's threads) or on a busy machine takes a while. So: kill the subtree
     * ({@code cgroup.kill}), wait until {@code cgroup.events} says {@code populated 0}, then rmdir deepest
     * first, retrying EBUSY with a short back-off, all within {@code timeout}. If it still fails, the
     * error names the tasks left ({@code cgroup.threads}), their state and the parent that holds them.
     */
    public static void remove(Path cgroup, Duration timeout) {
        if (!Files.isDirectory(cgroup)) {
            return;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        kill(cgroup, deadline);
        awaitEmpty(cgroup, deadline);
        removeTree(cgroup, deadline);
    }

    /**
     * SIGKILLs every task in the cgroup and the cgroups below it: at once through {@code cgroup.kill}
     * (Linux 5.14+), else one process at a time until none is listed (tasks forked meanwhile included).
     * The caller owns the cgroup, so everything in it is the caller's to stop.
     */
    public static void kill(Path cgroup, long deadlineNanos) {
        Path killFile = cgroup.resolve("cgroup.kill");
        if (Files.exists(killFile)) {
            try {
                Files.writeString(killFile, "1");
                return;
            } catch (IOException e) {
                // fall back to killing one by one
            }
        }
        while (System.nanoTime() < deadlineNanos) {
            List<Long> pids = subtree(cgroup).stream().flatMap(c -> procs(c).stream()).toList();
            if (pids.isEmpty()) {
                return;
            }
            pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
            sleepMillis(5);
        }
    }

    /** Whether the kernel still counts a task in the cgroup or below it ({@code populated} of cgroup.events). */
    public static boolean populated(Path cgroup) {
        try {
            for (String line : Files.readAllLines(cgroup.resolve("cgroup.events"))) {
                if (line.startsWith("populated ")) {
                    return !line.endsWith(" 0");
                }
            }
        } catch (IOException e) {
            // gone (or a kernel without cgroup.events): fall through to the task lists
        }
        return Files.isDirectory(cgroup) && subtree(cgroup).stream().anyMatch(c -> !threads(c).isEmpty());
    }

    private static void awaitEmpty(Path cgroup, long deadlineNanos) {
        long pause = 1;
        while (populated(cgroup) && System.nanoTime() < deadlineNanos) {
            sleepMillis(pause);
            pause = Math.min(pause * 2, 50);
        }
    }

    private static void removeTree(Path cgroup, long deadlineNanos) {
        List<Path> deepestFirst = new ArrayList<>(subtree(cgroup));
        Collections.reverse(deepestFirst);
        for (Path dir : deepestFirst) {
            long pause = 2;
            while (true) {
                int errno = Libc.rmdir(dir.toString());
                if (errno == 0 || errno == Errno.ENOENT) {
                    break;
                }
                if (errno == Errno.EBUSY && isMountPoint(dir)) {
                    // Busy for good, not for a moment: no waiting makes this rmdir succeed.
                    throw new LinuxException("cannot remove cgroup " + dir + ": " + Errno.describe(errno)
                            + "; a file system is mounted on it", errno);
                }
                if (errno != Errno.EBUSY || System.nanoTime() >= deadlineNanos) {
                    throw new LinuxException("cannot remove cgroup " + dir + ": " + Errno.describe(errno) + "; " + holders(dir), errno);
                }
                sleepMillis(pause);
                pause = Math.min(pause * 2, 100);
            }
        }
    }

    private static boolean isMountPoint(Path dir) {
        try {
            return !Files.getAttribute(dir, "unix:dev").equals(Files.getAttribute(dir.getParent(), "unix:dev"));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The cgroup and every cgroup below it, parents before children. */
    private static List<Path> subtree(Path cgroup) {
        if (!Files.isDirectory(cgroup)) {
            return List.of();
        }
        try (var walk = Files.walk(cgroup)) {
            return walk.filter(Files::isDirectory).toList();
        } catch (IOException | UncheckedIOException e) {
            return List.of(cgroup); // a child went away while we looked; the rmdir loop copes
        }
    }

    /** What keeps a cgroup busy (see {@link #holders}), for a message that names what is left. */
    public static String describe(Path cgroup) {
        return holders(cgroup);
    }

    /** What keeps a cgroup busy, for an error: its tasks with their state and the parent that has not reaped them. */
    static String holders(Path cgroup) {
        List<String> tasks = new ArrayList<>();
        for (Path c : subtree(cgroup)) {
            for (long tid : threads(c)) {
                tasks.add(describeTask(tid) + " in " + c.getFileName());
            }
        }
        String populated = populated(cgroup) ? "populated" : "not populated";
        return tasks.isEmpty()
                ? "no task is listed and the kernel reports it " + populated
                : "kernel reports it " + populated + "; tasks: " + String.join(", ", tasks);
    }

    private static String describeTask(long tid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + tid + "/stat"));
            String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
            String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            String state = rest[0];
            long ppid = Long.parseLong(rest[1]);
            String parent = ppid + " (" + ProcessHandle.of(ppid).flatMap(h -> h.info().command()).orElse("?") + ")";
            return tid + " (" + comm + ", state " + state + ", parent " + parent + ")";
        } catch (IOException | RuntimeException e) {
            return tid + " (gone from /proc)";
        }
    }

    /** The thread ids in a cgroup itself ({@code cgroup.threads}), not below it. */
    public static List<Long> threads(Path cgroup) {
        return ids(cgroup.resolve("cgroup.threads"));
    }

    /** The PIDs in a cgroup. */
    public static List<Long> procs(Path cgroup) {
        return ids(cgroup.resolve("cgroup.procs"));
    }

    private static List<Long> ids(Path file) {
        try {
            return Files.readAllLines(file).stream().filter(s -> !s.isBlank()).map(Long::parseLong).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LinuxException("interrupted while removing a cgroup");
        }
    }

    /** Opens the cgroup directory as a file descriptor, as BPF cgroup attachments need. The caller closes it. */
    public static int openFd(Path cgroup) {
        return Libc.open(cgroup.toString(), Libc.O_RDONLY | Libc.O_DIRECTORY);
    }
}
