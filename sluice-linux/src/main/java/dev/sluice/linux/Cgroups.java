package dev.sluice.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

    /**
     * Removes a cgroup and the cgroups below it, deepest first. A cgroup directory can only be removed
     * with rmdir once it holds no processes; the control files inside it vanish with it.
     */
    public static void remove(Path cgroup) {
        if (!Files.isDirectory(cgroup)) {
            return;
        }
        try (var children = Files.list(cgroup)) {
            for (Path child : children.filter(Files::isDirectory).toList()) {
                remove(child);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list cgroup " + cgroup, e);
        }
        try {
            Files.delete(cgroup);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove cgroup " + cgroup + " (processes: " + procs(cgroup) + ")", e);
        }
    }

    /** The PIDs in a cgroup. */
    public static List<Long> procs(Path cgroup) {
        try {
            return Files.readAllLines(cgroup.resolve("cgroup.procs")).stream()
                    .filter(s -> !s.isBlank()).map(Long::parseLong).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Opens the cgroup directory as a file descriptor, as BPF cgroup attachments need. The caller closes it. */
    public static int openFd(Path cgroup) {
        return Libc.open(cgroup.toString(), Libc.O_RDONLY | Libc.O_DIRECTORY);
    }
}
