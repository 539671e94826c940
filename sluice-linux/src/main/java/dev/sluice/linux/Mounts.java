package dev.sluice.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** The mount table of this process's mount namespace, from /proc/self/mounts. */
public final class Mounts {
    /** One line of the mount table. */
    public record Mount(String source, Path target, String type, String options) {
    }

    private Mounts() {
    }

    public static List<Mount> list() {
        try {
            return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                    .map(line -> line.split(" "))
                    .filter(f -> f.length >= 4)
                    .map(f -> new Mount(unescape(f[0]), Path.of(unescape(f[1])), f[2], f[3]))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/mounts", e);
        }
    }

    /** The first mount of the given file system type, e.g. {@code cgroup2} or {@code bpf}. */
    public static Optional<Mount> firstOfType(String type) {
        return list().stream().filter(m -> m.type().equals(type)).findFirst();
    }

    /** Whether a file system of {@code type} is mounted exactly at {@code target}. */
    public static boolean isMounted(Path target, String type) {
        Path normalized = target.toAbsolutePath().normalize();
        return list().stream().anyMatch(m -> m.type().equals(type) && m.target().equals(normalized));
    }

    // The kernel escapes space, tab, newline and backslash in mount paths as octal.
    private static String unescape(String field) {
        if (field.indexOf('\\') < 0) {
            return field;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length()) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
