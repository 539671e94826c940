package dev.sluice.e2e;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabStore;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Command;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Labs made by tests. Each is named {@code zt<kind><random>} and registered with the test JVM that owns it
 * (PID and start time) in {@code /run/sluice/test-labs/}. Before the first lab of a JVM, every registered lab
 * whose owner is dead is removed: what a crashed or killed earlier run left behind is swept by this
 * registry, never by a name pattern that could reach a user's lab or a concurrent run's.
 */
final class TestLabs {
    static final Path REGISTRY = LabStore.root().getParent().resolve("test-labs");
    private static boolean swept;

    private TestLabs() {
    }

    /** A new lab's handle (not yet up), registered to this JVM. */
    static synchronized Lab create(String kind) {
        if (!swept) {
            swept = true;
            sweep();
        }
        String name = "zt" + kind + Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36 * 36 * 36 * 36), 36);
        ProcessHandle self = ProcessHandle.current();
        try {
            Files.createDirectories(REGISTRY);
            Files.writeString(REGISTRY.resolve(name), self.pid() + " " + startTicks(self.pid()).orElseThrow() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Lab.named(name);
    }

    /**
     * Takes the lab down; should that fail, takes it down a second time (the first try removed what it
     * could and kept the state for that), then reports the first failure. The registration goes once
     * nothing is left.
     */
    static void down(Lab lab) {
        try {
            if (Files.exists(lab.store().dir())) {
                lab.down();
            }
        } catch (RuntimeException first) {
            try {
                if (Files.exists(lab.store().dir())) {
                    lab.down();
                }
            } catch (RuntimeException second) {
                first.addSuppressed(second);
            }
            throw first;
        } finally {
            if (!Files.exists(lab.store().dir())) {
                unregister(lab.name());
            }
        }
    }

    /** Removes every registered lab whose owning JVM is gone, and what it made. */
    static void sweep() {
        if (!Files.isDirectory(REGISTRY)) {
            return;
        }
        try (Stream<Path> entries = Files.list(REGISTRY)) {
            for (Path entry : entries.toList()) {
                String name = entry.getFileName().toString();
                if (!ownerAlive(entry)) {
                    System.out.println("[TestLabs] removing lab '" + name + "' left behind by an earlier test run");
                    try {
                        removeLeftovers(name);
                        unregister(name);
                    } catch (RuntimeException e) {
                        System.out.println("[TestLabs] could not remove lab '" + name + "': " + e.getMessage());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The lab through its own `down`, then anything its state no longer names (namespaces, cgroups, pins). */
    private static void removeLeftovers(String name) {
        Lab lab = Lab.named(name);
        if (Files.exists(lab.store().dir())) {
            try {
                lab.down();
            } catch (RuntimeException e) {
                System.out.println("[TestLabs] lab down " + name + ": " + e.getMessage());
            }
        }
        String prefix = "sl-" + name + "-";
        for (String ns : Command.exec(List.of("ip", "netns", "list")).stdout().lines().map(l -> l.split(" ")[0]).toList()) {
            if (ns.startsWith(prefix)) {
                Command.exec(List.of("ip", "netns", "delete", ns));
            }
        }
        Cgroups.v2Root().ifPresent(root -> Cgroups.remove(root.resolve("sluice-lab-" + name)));
        deleteTree(Lab.pinRoot(name));
        deleteTree(lab.store().dir());
    }

    private static boolean ownerAlive(Path entry) {
        try {
            String[] owner = Files.readString(entry).trim().split(" ");
            long pid = Long.parseLong(owner[0]);
            return startTicks(pid).map(t -> t == Long.parseLong(owner[1])).orElse(false);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static void unregister(String name) {
        try {
            Files.deleteIfExists(REGISTRY.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Optional<Long> startTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return Optional.of(Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[19]));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + root, e);
        }
    }
}
