package dev.sluice.bench.mesh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.linux.Command;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * CPU and memory as the kernel counts them, read at the two ends of a measured window: each cgroup's
 * {@code cpu.stat usage_usec} (pods, sidecars, the agent), a process's utime + stime from {@code /proc/PID/stat}
 * (the node proxy, which shares the agent's cgroup), the machine's {@code /proc/stat} (softirq included, where a
 * veth's packets are mostly paid for), and eBPF programs' {@code run_time_ns} with {@code kernel.bpf_stats_enabled}
 * on (the programs of the labs' pinned links; otherwise every program on the machine, and the figure says so).
 */
final class Meter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long CLK_TCK = 100; // USER_HZ on every Linux architecture Sluice builds for
    private final Set<Path> pinRoots;

    Meter(Set<Path> pinRoots) {
        this.pinRoots = Set.copyOf(pinRoots);
    }

    /** The counters at one instant. {@code bpfNs} is -1 when bpftool could not be read. */
    record Snapshot(long nanos, Map<String, Long> usageUsec, Map<Long, Long> procTicks, long[] machine, long bpfNs, boolean bpfAll) {
    }

    Snapshot snapshot(Map<String, Path> cgroups, List<Long> pids) {
        Map<String, Long> usage = new LinkedHashMap<>();
        cgroups.forEach((name, cg) -> usage.put(name, usageUsec(cg)));
        Map<Long, Long> ticks = new LinkedHashMap<>();
        pids.forEach(pid -> ticks.put(pid, procTicks(pid)));
        long[] bpf = bpfRunTime();
        return new Snapshot(System.nanoTime(), usage, ticks, machine(), bpf[0], bpf[1] == 1);
    }

    /** Cores used between two snapshots (1.0 = one CPU busy the whole window). */
    record Window(double seconds, Map<String, Double> cgroups, Map<Long, Double> procs, double machineBusy, double machineSoftirq,
                  double bpf, boolean bpfAll) {
    }

    static Window between(Snapshot a, Snapshot b) {
        double s = (b.nanos() - a.nanos()) / 1e9;
        Map<String, Double> cg = new LinkedHashMap<>();
        b.usageUsec().forEach((k, v) -> cg.put(k, (v - a.usageUsec().getOrDefault(k, v)) / 1e6 / s));
        Map<Long, Double> procs = new LinkedHashMap<>();
        b.procTicks().forEach((k, v) -> procs.put(k, (v - a.procTicks().getOrDefault(k, v)) / (double) CLK_TCK / s));
        long total = 0;
        for (int i = 0; i < b.machine().length; i++) {
            total += b.machine()[i] - a.machine()[i];
        }
        // /proc/stat's cpu line: user nice system idle iowait irq softirq steal; the busy share of all CPUs' time, in cores.
        int cpus = Runtime.getRuntime().availableProcessors();
        long idle = (b.machine()[3] - a.machine()[3]) + (b.machine()[4] - a.machine()[4]);
        double busy = total == 0 ? 0 : (double) (total - idle) / total * cpus;
        double softirq = total == 0 ? 0 : (double) (b.machine()[6] - a.machine()[6]) / total * cpus;
        double bpf = a.bpfNs() < 0 || b.bpfNs() < 0 ? Double.NaN : (b.bpfNs() - a.bpfNs()) / 1e9 / s;
        return new Window(s, cg, procs, busy, softirq, bpf, a.bpfAll() || b.bpfAll());
    }

    /** The cgroup's CPU time since it was made, in µs (cgroup v2 keeps it without the cpu controller). */
    static long usageUsec(Path cgroup) {
        try {
            return Files.readAllLines(cgroup.resolve("cpu.stat")).stream().filter(l -> l.startsWith("usage_usec "))
                    .mapToLong(l -> Long.parseLong(l.substring("usage_usec ".length()).strip())).findFirst().orElse(0);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + cgroup.resolve("cpu.stat") + ": " + e.getMessage(), e);
        }
    }

    /**
     * The cgroup's memory peak in bytes: {@code memory.peak} where the memory controller is enabled for it, else the
     * sum of its processes' peak RSS (VmHWM; on hybrid hierarchies, where memory is a v1 controller); -1 if neither.
     */
    static long memoryPeak(Path cgroup) {
        Path peak = cgroup.resolve("memory.peak");
        try {
            if (Files.exists(peak)) {
                return Long.parseLong(Files.readString(peak).strip());
            }
            long sum = 0;
            boolean any = false;
            try (Stream<Path> dirs = Files.walk(cgroup)) {
                for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                    for (String pid : Files.readAllLines(dir.resolve("cgroup.procs"))) {
                        long hwm = vmHwm(Long.parseLong(pid.strip()));
                        if (hwm >= 0) {
                            sum += hwm;
                            any = true;
                        }
                    }
                }
            }
            return any ? sum : -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** A process's peak resident set (VmHWM) in bytes, -1 if it is gone. */
    static long vmHwm(long pid) {
        return statusField(pid, "VmHWM:");
    }

    static long vmRss(long pid) {
        return statusField(pid, "VmRSS:");
    }

    private static long statusField(long pid, String field) {
        try {
            return Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream().filter(l -> l.startsWith(field))
                    .mapToLong(l -> Long.parseLong(l.substring(field.length()).replace("kB", "").strip()) * 1024).findFirst().orElse(-1);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** utime + stime of a process and its threads, in clock ticks; 0 once it is gone. */
    static long procTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15, counted from the state (field 3)
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static long[] machine() {
        try {
            String cpu = Files.readAllLines(Path.of("/proc/stat")).getFirst();
            String[] f = cpu.trim().split("\\s+");
            long[] v = new long[8];
            for (int i = 0; i < 8; i++) {
                v[i] = Long.parseLong(f[i + 1]);
            }
            return v;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/stat: " + e.getMessage(), e);
        }
    }

    /** Sum of run_time_ns of the labs' programs (or of all, flag 1); {-1, 0} if bpftool fails. */
    private long[] bpfRunTime() {
        Command.Result progs = Command.exec(List.of("bpftool", "-j", "prog", "show"));
        if (!progs.ok()) {
            return new long[] {-1, 0};
        }
        Set<Long> ours = labProgramIds();
        try {
            long sum = 0;
            for (JsonNode p : JSON.readTree(progs.stdout())) {
                if (ours.isEmpty() || ours.contains(p.path("id").asLong())) {
                    sum += p.path("run_time_ns").asLong(0);
                }
            }
            return new long[] {sum, ours.isEmpty() ? 1 : 0};
        } catch (IOException e) {
            return new long[] {-1, 0};
        }
    }

    /** The programs behind the links pinned under the labs' pin roots (tc, cgroup and sk_msg programs the agents attached). */
    private Set<Long> labProgramIds() {
        Set<Long> ids = new HashSet<>();
        Command.Result links = Command.exec(List.of("bpftool", "-j", "-f", "link", "show"));
        if (!links.ok()) {
            return ids;
        }
        try {
            for (JsonNode l : JSON.readTree(links.stdout())) {
                for (JsonNode pin : l.path("pinned")) {
                    if (pinRoots.stream().anyMatch(r -> pin.asText().startsWith(r.toString()))) {
                        ids.add(l.path("prog_id").asLong());
                    }
                }
            }
        } catch (IOException e) {
            ids.clear();
        }
        return ids;
    }

    /** Turns the kernel's per-program run-time accounting on; the returned handle puts back what was there. */
    static AutoCloseable enableBpfStats() {
        Path sysctl = Path.of("/proc/sys/kernel/bpf_stats_enabled");
        try {
            String before = Files.readString(sysctl).strip();
            Files.writeString(sysctl, "1");
            return () -> Files.writeString(sysctl, before);
        } catch (IOException e) {
            return () -> {
            };
        }
    }
}
