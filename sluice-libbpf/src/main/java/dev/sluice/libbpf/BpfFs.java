package dev.sluice.libbpf;

import dev.sluice.linux.Errno;
import dev.sluice.linux.LinuxException;
import dev.sluice.linux.Mounts;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** The BPF file system, where maps and links are pinned to outlive the process that made them. */
public final class BpfFs {
    public static final Path DEFAULT_ROOT = Path.of("/sys/fs/bpf");

    private BpfFs() {
    }

    public static boolean isMounted(Path root) {
        return Mounts.isMounted(root, "bpf");
    }

    /** Mounts bpffs at {@code root} unless it is there already; returns {@code root}. */
    public static Path ensureMounted(Path root) {
        if (isMounted(root)) {
            return root;
        }
        try {
            Files.createDirectories(root);
            dev.sluice.linux.Libc.mount("bpf", root.toString(), "bpf", 0);
            return root;
        } catch (IOException e) {
            throw new BpfException("bpffs is not mounted at " + root + " and the directory cannot be made: " + e.getMessage(), 0);
        } catch (LinuxException e) {
            throw new BpfException("bpffs is not mounted at " + root + " and mounting it failed (" + e.getMessage()
                    + "): run as root, or mount it with 'mount -t bpf bpf " + root + "'", e.errno());
        }
    }

    static void pin(int fd, Path path, String what) {
        try {
            Files.createDirectories(path.getParent());
        } catch (IOException e) {
            throw new BpfException("pin " + what + " at " + path + ": cannot create " + path.getParent()
                    + " (is bpffs mounted?): " + e.getMessage(), 0);
        }
        try (Call call = new Call()) {
            int rc = (int) LibBpf.OBJ_PIN.invokeExact(call.state, fd, call.string(path.toString()));
            if (rc != 0) {
                throw BpfException.of("pin " + what + " at " + path, call.errno());
            }
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    static int openPinned(Path path) {
        try (Call call = new Call()) {
            int fd = (int) LibBpf.OBJ_GET.invokeExact(call.state, call.string(path.toString()));
            if (fd < 0) {
                int errno = call.errno();
                if (errno == Errno.ENOENT && !isMounted(DEFAULT_ROOT) && path.startsWith(DEFAULT_ROOT)) {
                    throw new BpfException("open pinned object " + path + " failed: bpffs is not mounted at " + DEFAULT_ROOT, errno);
                }
                throw BpfException.of("open pinned object " + path, errno);
            }
            return fd;
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** Removes a pin (the object lives on while something else holds it). */
    public static void unpin(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpin " + path, e);
        }
    }

    /** Removes a directory of pins and everything below it. */
    public static void removeTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove pins under " + dir, e);
        }
    }

}
