package dev.sluice.lab;

import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Mounts;
import dev.sluice.model.ContainerSpec;
import dev.sluice.model.PodTemplate;
import dev.sluice.model.ResourceLimits;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A pod's {@code resources.limits} as cgroup limits. The lab's containers share their pod's cgroup, so the pod gets
 * the sum of its containers' limits (a resource is limited only when every container limits it, as a pod's cgroup
 * is in Kubernetes). cgroup v2 ({@code cpu.max}, {@code memory.max}) where the unified hierarchy has the cpu and
 * memory controllers; on a hybrid machine whose cpu and memory controllers are bound to cgroup v1 hierarchies (as
 * the kubelet does there) a cgroup per pod in each of those ({@code cpu.cfs_quota_us}, {@code memory.limit_in_bytes}),
 * which the container's processes join beside their v2 cgroup.
 */
final class PodLimits {
    /** The CFS period both versions use: a limit of 250m is 25 ms of CPU every 100 ms. */
    static final long CPU_PERIOD_US = 100_000;

    private PodLimits() {
    }

    /** What the pod's containers ask for together. */
    static ResourceLimits of(PodTemplate template) {
        Long cpu = 0L;
        Long memory = 0L;
        for (ContainerSpec c : template.containers()) {
            cpu = cpu == null || c.limits().cpuMillis() == null ? null : cpu + c.limits().cpuMillis();
            memory = memory == null || c.limits().memoryBytes() == null ? null : memory + c.limits().memoryBytes();
        }
        return new ResourceLimits(cpu, memory);
    }

    /** How this machine can limit a pod: "cgroup v2", "cgroup v1 (hybrid)", or why it cannot. */
    static String mechanism() {
        if (v2Has("cpu") && v2Has("memory")) {
            return "cgroup v2 (cpu.max, memory.max)";
        }
        if (v1Mount("cpu").isPresent() && v1Mount("memory").isPresent()) {
            return "cgroup v1 cpu and memory hierarchies (hybrid: cgroup v2 lacks those controllers here)";
        }
        return "none: neither cgroup v2 nor v1 offers the cpu and memory controllers";
    }

    /**
     * Puts the pod's limits in force before its containers start. Returns the v1 cgroup directories the containers
     * must join ({@code cgroup.procs} in each), empty with cgroup v2 or without limits.
     */
    static List<Path> apply(String lab, String node, String podDir, Path v2Cgroup, ResourceLimits limits) {
        if (limits.isEmpty()) {
            return List.of();
        }
        if (v2Has("cpu") && v2Has("memory")) {
            enableControllers(v2Cgroup.getParent());
            write(v2Cgroup.resolve("cpu.max"), limits.cpuMillis() == null ? null : cpuQuotaUs(limits.cpuMillis()) + " " + CPU_PERIOD_US);
            write(v2Cgroup.resolve("memory.max"), limits.memoryBytes() == null ? null : Long.toString(limits.memoryBytes()));
            write(v2Cgroup.resolve("memory.swap.max"), limits.memoryBytes() == null ? null : "0");
            return List.of();
        }
        List<Path> joined = new ArrayList<>();
        if (limits.cpuMillis() != null) {
            Path dir = v1Dir("cpu", lab, node, podDir).orElseThrow(() -> new LabException(
                    "resources.limits.cpu cannot be enforced: no cgroup offers the cpu controller (see 'sluice doctor')"));
            mkdirs(dir);
            write(dir.resolve("cpu.cfs_period_us"), Long.toString(CPU_PERIOD_US));
            write(dir.resolve("cpu.cfs_quota_us"), Long.toString(cpuQuotaUs(limits.cpuMillis())));
            joined.add(dir);
        }
        if (limits.memoryBytes() != null) {
            Path dir = v1Dir("memory", lab, node, podDir).orElseThrow(() -> new LabException(
                    "resources.limits.memory cannot be enforced: no cgroup offers the memory controller (see 'sluice doctor')"));
            mkdirs(dir);
            write(dir.resolve("memory.limit_in_bytes"), Long.toString(limits.memoryBytes()));
            // Without swap accounting the limit would push the excess into swap rather than stop it.
            if (Files.exists(dir.resolve("memory.memsw.limit_in_bytes"))) {
                write(dir.resolve("memory.memsw.limit_in_bytes"), Long.toString(limits.memoryBytes()));
            }
            joined.add(dir);
        }
        return joined;
    }

    /** Whether the pod's memory limit killed a process (the kernel's OOM killer in its cgroup). */
    static boolean oomKilled(String lab, String node, String podDir, Path v2Cgroup) {
        Path events = v2Cgroup.resolve("memory.events");
        if (Files.exists(events)) {
            return counter(events, "oom_kill") > 0;
        }
        return v1Dir("memory", lab, node, podDir).map(d -> counter(d.resolve("memory.oom_control"), "oom_kill") > 0).orElse(false);
    }

    /** Removes the pod's v1 cgroups (its processes are gone by then: they were killed through the v2 cgroup). */
    static void remove(String lab, String node, String podDir) {
        for (String controller : List.of("cpu", "memory")) {
            v1Dir(controller, lab, node, podDir).ifPresent(PodLimits::rmdir);
        }
    }

    /** Removes the lab's v1 cgroups, deepest first. */
    static void removeLab(String lab) {
        for (Path root : labCgroups(lab)) {
            try (var walk = Files.walk(root)) {
                walk.filter(Files::isDirectory).sorted(java.util.Comparator.reverseOrder()).forEach(PodLimits::rmdir);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove " + root, e);
            }
        }
    }

    /** The lab's v1 cgroup roots that exist (one per v1 hierarchy the limits used). */
    static List<Path> labCgroups(String lab) {
        return List.of("cpu", "memory").stream().flatMap(c -> v1Mount(c).stream()).map(m -> m.resolve("sluice-lab-" + lab))
                .filter(Files::isDirectory).distinct().toList();
    }

    static long cpuQuotaUs(long millis) {
        return Math.max(1000, millis * CPU_PERIOD_US / 1000);
    }

    private static long counter(Path file, String key) {
        try {
            return Files.readAllLines(file).stream().filter(l -> l.startsWith(key + " "))
                    .mapToLong(l -> Long.parseLong(l.substring(key.length() + 1).trim())).findFirst().orElse(0);
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    private static boolean v2Has(String controller) {
        return Cgroups.v2Root().map(root -> {
            try {
                return Arrays.asList(Files.readString(root.resolve("cgroup.controllers")).trim().split("\\s+")).contains(controller);
            } catch (IOException e) {
                return false;
            }
        }).orElse(false);
    }

    /** Turns cpu and memory on in every cgroup from the v2 root down to {@code parent}, so its children have them. */
    private static void enableControllers(Path parent) {
        Path root = Cgroups.requireV2Root();
        List<Path> chain = new ArrayList<>();
        for (Path p = parent; p != null && p.startsWith(root); p = p.getParent()) {
            chain.addFirst(p);
        }
        for (Path p : chain) {
            write(p.resolve("cgroup.subtree_control"), "+cpu +memory");
        }
    }

    private static Optional<Path> v1Mount(String controller) {
        return Mounts.list().stream().filter(m -> m.type().equals("cgroup")
                && Arrays.asList(m.options().split(",")).contains(controller)).map(Mounts.Mount::target).findFirst();
    }

    private static Optional<Path> v1Dir(String controller, String lab, String node, String podDir) {
        return v1Mount(controller).map(m -> m.resolve("sluice-lab-" + lab).resolve(node).resolve(podDir));
    }

    private static void mkdirs(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create cgroup " + dir, e);
        }
    }

    private static void write(Path file, String value) {
        if (value == null) {
            return;
        }
        try {
            Files.writeString(file, value);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + value + " to " + file, e);
        }
    }

    private static void rmdir(Path dir) {
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove cgroup " + dir + " (a process of the lab is still in it?)", e);
        }
    }
}
