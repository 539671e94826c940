package dev.sluice.bench.lb;

import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.LbMapWriter;
import dev.sluice.datapath.lb.LbMaps;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.lb.Maglev;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Libc;
import dev.sluice.linux.NetNs;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * New-connection latency through a ClusterIP with N Services programmed, per mode:
 *
 * <ul>
 *   <li>{@code direct}: no load balancing at all, the client connects to one backend address (the floor;
 *       it does not depend on N, so its spread over N shows the run's noise);</li>
 *   <li>{@code sluice}: every sock_lb program on a cgroup the client joins, N frontends written by
 *       {@link LbMapWriter#sync} into fresh maps; the client connects to the last Service's ClusterIP;</li>
 *   <li>{@code iptables-nft} / {@code iptables-legacy}: no BPF; kube-proxy's iptables rules for the same N
 *       Services ({@link KubeProxyRules}) loaded with one {@code iptables-restore} (resp.
 *       {@code iptables-legacy-restore}) inside the client namespace; the client connects to the same ClusterIP.</li>
 * </ul>
 *
 * Everything for every (mode, N) is set up first and stays up, so that the measurements can be
 * interleaved: every (mode, N) has a client/server namespace pair of its own (so that no namespace piles up
 * more TIME_WAIT sockets or conntrack entries than one cell makes), and Sluice one cgroup per N with its
 * own sock_lb object and maps. Then R rounds each run every (mode, N) once, in an order that alternates between rounds
 * (forward, then backward), so slow drift of the machine spreads over all cells instead of favouring one.
 */
final class LatencyBench {
    static final List<String> ALL_MODES = List.of("direct", "sluice", "iptables-nft", "iptables-legacy");

    private final Cleanup cleanup;
    private final PrintStream out;
    private final List<String> modes;
    private final Map<String, NsPair> pairs = new LinkedHashMap<>();
    private final Map<Integer, Path> cgroups = new LinkedHashMap<>();
    /** The ANSWERS line of the last client run: which backend answered how often. */
    private String lastAnswers = "";

    LatencyBench(Cleanup cleanup, PrintStream out, List<String> modes) {
        this.cleanup = cleanup;
        this.out = out;
        this.modes = modes;
    }

    record Cell(String mode, int services, Histogram histogram, List<String> answers) {
    }

    /** {n, nanoseconds}: every LbMapWriter.sync of n Services into fresh maps this part made (programming-time samples). */

    List<Cell> run(List<Integer> sizes, int rounds, int warmup, int count) throws Exception {
        out.printf(Locale.ROOT, "%n== New-connection latency through a ClusterIP (connect, 1 byte each way, close), "
                + "%d rounds x (%d warm-up + %d measured) connections per mode and N ==%n", rounds, warmup, count);
        for (String mode : modes) {
            if (!ALL_MODES.contains(mode)) {
                throw new IllegalArgumentException("unknown mode " + mode + "; known: " + ALL_MODES);
            }
        }
        Map<Integer, String> vips = new LinkedHashMap<>();
        for (int n : sizes) {
            List<Frontend> frontends = Workload.frontends(n);
            vips.put(n, frontends.getLast().address());
            out.printf(Locale.ROOT, "%nN=%d Services (target: the last one, %s:%d -> %s:%d)%n", n, frontends.getLast().address(),
                    Workload.SERVICE_PORT, String.join("|", Workload.SERVER_ADDRESSES), Workload.BACKEND_PORT);
            if (modes.contains("direct")) {
                pair("direct-" + n);
            }
            if (modes.contains("sluice")) {
                pair("sluice-" + n);
                programSluice(n, frontends);
            }
            KubeProxyRules.Rendered rules = null;
            for (String mode : List.of("iptables-nft", "iptables-legacy")) {
                if (modes.contains(mode)) {
                    if (rules == null) {
                        rules = KubeProxyRules.render(frontends, Workload.CLUSTER_CIDR);
                    }
                    restore(mode, n, pair(mode + "-" + n).client, rules);
                }
            }
        }
        out.println();
        pairs.forEach((name, pair) -> out.printf(Locale.ROOT, "namespaces for %s: client %s, server %s%n", name, pair.client.name(), pair.server.name()));

        List<String[]> order = new ArrayList<>();
        for (int n : sizes) {
            for (String mode : modes) {
                order.add(new String[] {mode, Integer.toString(n)});
            }
        }
        Map<String, Cell> cells = new LinkedHashMap<>();
        for (int round = 1; round <= rounds; round++) {
            List<String[]> thisRound = new ArrayList<>(order);
            if (round % 2 == 0) {
                Collections.reverse(thisRound);
            }
            out.printf(Locale.ROOT, "%nRound %d of %d%n", round, rounds);
            for (String[] c : thisRound) {
                String mode = c[0];
                int n = Integer.parseInt(c[1]);
                Histogram h = client(mode, n, vips.get(n), warmup, count);
                Cell cell = cells.computeIfAbsent(mode + "/" + n, k -> new Cell(mode, n, new Histogram(60_000_000_000L, 3), new ArrayList<>()));
                cell.histogram().add(h);
                cell.answers().add(lastAnswers);
                out.printf(Locale.ROOT, "  %-16s N=%-6d p50 %7s  p90 %7s  p99 %8s us   answered by %s%n", mode, n, us(h, 50), us(h, 90),
                        us(h, 99), lastAnswers);
            }
        }
        report(sizes, cells);
        return List.copyOf(cells.values());
    }

    // ---- set-up

    private NsPair pair(String name) {
        NsPair pair = pairs.get(name);
        if (pair == null) {
            pair = NsPair.create(name.substring(0, 1).equals("i") ? (name.contains("legacy") ? "l" : "n") : name.substring(0, 1), cleanup);
            pairs.put(name, pair);
            ByteServer server = new ByteServer(pair.server, Workload.BACKEND_PORT);
            cleanup.add("server in " + pair.server.name(), server);
        }
        return pair;
    }

    /**
     * A cgroup for N with a fresh sock_lb object of its own (maps pinned under a new directory), N frontends
     * written by a new LbMapWriter (timed: a programming-time sample), and the five socket hooks attached.
     */
    private void programSluice(int n, List<Frontend> frontends) {
        Path cgroup = Cgroups.create(Path.of("sluice-lbbench-" + Names.unique("g")));
        cleanup.add("cgroup " + cgroup, () -> Cgroups.remove(cgroup));
        cgroups.put(n, cgroup);
        int fd = Cgroups.openFd(cgroup);
        cleanup.addProcessLocal("cgroup fd", () -> Libc.close(fd));
        Path dir = BpfFs.DEFAULT_ROOT.resolve("sluice-lbbench-" + Names.unique("l"));
        cleanup.add("pins under " + dir, () -> BpfFs.removeTree(dir));
        BpfObject object = Programs.open(Programs.SOCK_LB).pinMapsUnder(dir).load();
        cleanup.addProcessLocal("sock_lb object", object);
        LbMaps maps = LbMaps.of(object::map);
        LbMapWriter writer = new LbMapWriter(maps, Maglev.DEFAULT_TABLE_SIZE, false); // the agent with socket LB
        System.gc();
        long start = System.nanoTime();
        int changed = writer.sync(frontends);
        long elapsed = System.nanoTime() - start;
        if (changed != n) {
            throw new IllegalStateException("sync reported " + changed + " changed frontends, expected " + n);
        }
        ProgrammingBench.verify(maps, n, false);
        out.printf(java.util.Locale.ROOT, "  programmed %d Services for the sluice mode in %s ms%n", n, ProgrammingBench.ms(elapsed));
        // Every program of sock_lb is a cgroup socket hook (connect4/6, sendmsg4/6, recvmsg4/6, getpeername4/6,
        // sock_release): all of them go on the cgroup, as the agent attaches them to a node's pod cgroup.
        List<String> hooks = object.programNames();
        for (String hook : hooks) {
            BpfLink link = object.program(hook).attachCgroup(fd);
            cleanup.addProcessLocal("link " + hook, link::detach);
        }
        out.printf(Locale.ROOT, "  sluice: LbMapWriter.sync of %d Services into fresh maps (pinned under %s) took %s ms; "
                + "sock_lb (%s) attached to cgroup %s%n", n, dir, ProgrammingBench.ms(elapsed), String.join(", ", hooks), cgroup);
    }

    private void restore(String mode, int n, NetNs ns, KubeProxyRules.Rendered rules) throws IOException, InterruptedException {
        boolean legacy = mode.endsWith("legacy");
        long start = System.nanoTime();
        exec(ns, List.of(legacy ? "iptables-legacy-restore" : "iptables-restore", "-w", "5"), rules.text());
        long elapsed = System.nanoTime() - start;
        String saved = exec(ns, List.of(legacy ? "iptables-legacy-save" : "iptables-save", "-t", "nat"), null);
        long kubeServices = saved.lines().filter(l -> l.startsWith("-A KUBE-SERVICES ")).count();
        long all = saved.lines().filter(l -> l.startsWith("-A ")).count();
        if (kubeServices != rules.kubeServicesRules()) {
            throw new IllegalStateException(mode + ": nat KUBE-SERVICES holds " + kubeServices + " rules after restore, expected "
                    + rules.kubeServicesRules());
        }
        out.printf(Locale.ROOT, "  %s: one restore of %d rules (%d in nat, %d in nat KUBE-SERVICES) into %s took %s ms%n", mode,
                rules.rules(), all, kubeServices, ns.name(), ProgrammingBench.ms(elapsed));
    }

    /** Runs a command inside {@code ns} (nsenter --net), feeding it {@code input}; returns its stdout. */
    private String exec(NetNs ns, List<String> command, String input) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + ns.path()));
        cmd.addAll(command);
        Path file = null;
        ProcessBuilder builder = new ProcessBuilder(cmd);
        if (input != null) {
            file = Files.createTempFile("lbbench-rules-", ".txt");
            Files.writeString(file, input);
            builder.redirectInput(file.toFile());
        } else {
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        try {
            Result r = run(builder, 300);
            if (r.exit != 0) {
                throw new IllegalStateException("'" + String.join(" ", cmd) + "' failed (exit " + r.exit + "): " + r.stderr.strip());
            }
            return r.stdout;
        } finally {
            if (file != null) {
                Files.deleteIfExists(file);
            }
        }
    }

    // ---- the client

    private Histogram client(String mode, int n, String vip, int warmup, int count) throws IOException, InterruptedException {
        NsPair pair = pairs.get(mode + "-" + n);
        String javaCommand = ProcessHandle.current().info().command().orElseThrow(() -> new IllegalStateException("cannot find this JVM's java command"));
        String classpath = java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .map(p -> Path.of(p).toAbsolutePath().toString()).collect(Collectors.joining(java.io.File.pathSeparator));
        boolean direct = mode.equals("direct");
        String target = direct ? Workload.SERVER_ADDRESSES.getFirst() : vip;
        int port = direct ? Workload.BACKEND_PORT : Workload.SERVICE_PORT;
        String expected = direct ? lastOctet(Workload.SERVER_ADDRESSES.getFirst())
                : Workload.SERVER_ADDRESSES.stream().map(LatencyBench::lastOctet).collect(Collectors.joining(","));
        List<String> cmd = List.of("nsenter", "--net=" + pair.client.path(), javaCommand, "-Djava.net.preferIPv4Stack=true", "-XX:+UseSerialGC",
                "-Xms64m", "-Xmx64m", "-cp", classpath, LbClient.class.getName(),
                mode.equals("sluice") ? cgroups.get(n).toString() : "-", target, Integer.toString(port), Integer.toString(warmup),
                Integer.toString(count), expected);
        ProcessBuilder builder = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Result r = run(builder, 600);
        if (r.exit != 0) {
            throw new IllegalStateException(mode + " client failed (exit " + r.exit + "): " + r.stderr.strip() + " " + r.stdout.strip());
        }
        Histogram h = null;
        for (String line : r.stdout.lines().toList()) {
            if (line.startsWith("ANSWERS ")) {
                lastAnswers = line.substring("ANSWERS ".length());
            } else if (line.startsWith("HISTOGRAM ")) {
                byte[] bytes = Base64.getDecoder().decode(line.substring("HISTOGRAM ".length()));
                try {
                    h = Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(bytes), 0);
                } catch (java.util.zip.DataFormatException e) {
                    throw new IllegalStateException("cannot decode the client's histogram", e);
                }
            }
        }
        if (h == null || h.getTotalCount() != count) {
            throw new IllegalStateException(mode + " client printed no histogram of " + count + " connections: " + r.stdout);
        }
        return h;
    }

    private static String lastOctet(String address) {
        return address.substring(address.lastIndexOf('.') + 1);
    }

    private record Result(int exit, String stdout, String stderr) {
    }

    /** Starts the process, stops it (by its own handle: its pid) if it overruns or the run is interrupted. */
    private Result run(ProcessBuilder builder, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = builder.start();
        AutoCloseable stop = () -> {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        };
        cleanup.add("process " + p.pid(), stop);
        try {
            CompletableFuture<String> stdout = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
            CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IllegalStateException("'" + String.join(" ", builder.command()) + "' did not finish in " + timeoutSeconds + " s");
            }
            return new Result(p.exitValue(), stdout.join(), stderr.join());
        } finally {
            cleanup.runNow(stop);
        }
    }

    private static String read(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    // ---- the report

    private void report(List<Integer> sizes, Map<String, Cell> cells) {
        out.printf(Locale.ROOT, "%nNew-connection latency, all rounds merged, microseconds:%n%n");
        out.println("| Mode | Services | Connections | p50 | p90 | p99 | p99.9 | max |");
        out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (String mode : modes) {
            for (int n : sizes) {
                Cell c = cells.get(mode + "/" + n);
                Histogram h = c.histogram();
                out.printf(Locale.ROOT, "| %s | %d | %d | %s | %s | %s | %s | %s |%n", mode, n, h.getTotalCount(), us(h, 50), us(h, 90),
                        us(h, 99), us(h, 99.9), String.format(Locale.ROOT, "%.1f", h.getMaxValue() / 1e3));
            }
        }
        int first = sizes.getFirst();
        int last = sizes.getLast();
        out.printf(Locale.ROOT, "%nRatios, N=%d over N=%d (same mode):%n%n", last, first);
        out.println("| Mode | p50 | p90 | p99 |");
        out.println("|---|---:|---:|---:|");
        for (String mode : modes) {
            Histogram a = cells.get(mode + "/" + first).histogram();
            Histogram b = cells.get(mode + "/" + last).histogram();
            out.printf(Locale.ROOT, "| %s | %s | %s | %s |%n", mode, ratio(b, a, 50), ratio(b, a, 90), ratio(b, a, 99));
        }
        if (modes.contains("sluice")) {
            Histogram a = cells.get("sluice/" + first).histogram();
            Histogram b = cells.get("sluice/" + last).histogram();
            double change = 100.0 * (b.getValueAtPercentile(50) - a.getValueAtPercentile(50)) / a.getValueAtPercentile(50);
            out.printf(Locale.ROOT, "%nGoal \"Sluice flat\": p50 at N=%d is %+.1f %% of N=%d (goal: within 5 %%): %s%n", last, change, first,
                    Math.abs(change) <= 5 ? "met" : "NOT met");
        }
    }

    static String us(Histogram h, double percentile) {
        return String.format(Locale.ROOT, "%.1f", h.getValueAtPercentile(percentile) / 1e3);
    }

    private static String ratio(Histogram b, Histogram a, double percentile) {
        return String.format(Locale.ROOT, "%.2f", (double) b.getValueAtPercentile(percentile) / a.getValueAtPercentile(percentile));
    }
}
