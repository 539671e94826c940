package dev.sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** What the benchmarks check of the machine before they start: root, and the tools they run. */
public final class Host {
    private Host() {
    }

    /** Whether this process runs as uid 0 (read from /proc: no JNI, no `id`). */
    public static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    /** The first of {@code tools} found in none of the system's binary directories. */
    public static Optional<String> missingTool(List<String> tools) {
        return tools.stream()
                .filter(tool -> Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin").noneMatch(d -> Files.isExecutable(Path.of(d, tool))))
                .findFirst();
    }
}
