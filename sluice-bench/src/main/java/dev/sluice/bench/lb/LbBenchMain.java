package dev.sluice.bench.lb;

import dev.sluice.linux.Cgroups;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * LbBench's command line:
 * <pre>
 * LbBench [all|program|latency]
 *         [--program-sizes 100,1000,10000] [--reps 5,3,3]
 *         [--sizes 10,1000,10000] [--rounds 4] [--warmup 500] [--count 2000]
 *         [--modes direct,sluice,iptables-nft,iptables-legacy]
 * </pre>
 * {@code --reps} gives the number of syncs per program size (the last value repeats), in each agent mode.
 */
public final class LbBenchMain {
    private LbBenchMain() {
    }

    public static int run(String[] args) throws Exception {
        String what = "all";
        List<Integer> programSizes = List.of(100, 1000, 10000);
        List<Integer> reps = List.of(5, 3, 3);
        List<Integer> sizes = List.of(10, 1000, 10000);
        int rounds = 4;
        int warmup = 500;
        int count = 2000;
        List<String> modes = LatencyBench.ALL_MODES;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "all", "program", "latency" -> what = a;
                case "--program-sizes" -> programSizes = ints(args[++i]);
                case "--reps" -> reps = ints(args[++i]);
                case "--sizes" -> sizes = ints(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--count" -> count = Integer.parseInt(args[++i]);
                case "--modes" -> modes = List.of(args[++i].split(","));
                default -> {
                    System.err.println("unknown argument " + a + "\nusage: LbBench [all|program|latency] [--program-sizes 100,1000,10000] "
                            + "[--reps 5,3,3] [--sizes 10,1000,10000] [--rounds 4] [--warmup 500] [--count 2000] "
                            + "[--modes direct,sluice,iptables-nft,iptables-legacy]");
                    return 2;
                }
            }
        }
        String missing = missing(what, modes);
        if (missing != null) {
            System.err.println("LbBench cannot run: " + missing);
            return 1;
        }

        PrintStream out = System.out;
        long start = System.nanoTime();
        out.println("LbBench " + Instant.now());
        machine(out);
        try (Cleanup cleanup = new Cleanup()) {
            if (!what.equals("latency")) {
                new ProgrammingBench(cleanup, out).run(programSizes, reps);
            }
            if (!what.equals("program")) {
                new LatencyBench(cleanup, out, modes).run(sizes, rounds, warmup, count);
            }
        }
        out.printf(Locale.ROOT, "%nLbBench done in %.0f s; namespaces, cgroup, pins and processes it made are removed.%n",
                (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private static List<Integer> ints(String csv) {
        return Stream.of(csv.split(",")).map(String::strip).map(Integer::parseInt).toList();
    }

    private static String missing(String what, List<String> modes) {
        if (!dev.sluice.bench.Host.isRoot()) {
            return "it needs root (BPF maps and programs, network namespaces, cgroups, iptables inside its namespaces); run it with sudo";
        }
        if (Cgroups.v2Root().isEmpty() && !what.equals("program")) {
            return "cgroup v2 is not mounted (the socket LB attaches to a cgroup v2)";
        }
        List<String> tools = new ArrayList<>(List.of("ip", "nsenter", "sysctl"));
        if (!what.equals("program")) {
            if (modes.contains("iptables-nft")) {
                tools.addAll(List.of("iptables-restore", "iptables-save"));
            }
            if (modes.contains("iptables-legacy")) {
                tools.addAll(List.of("iptables-legacy-restore", "iptables-legacy-save"));
            }
        }
        return dev.sluice.bench.Host.missingTool(tools)
                .map(tool -> tool + " is not installed" + (tool.startsWith("iptables") ? " (apt-get install iptables)" : ""))
                .orElse(null);
    }

    private static void machine(PrintStream out) {
        out.println("Kernel: " + read("/proc/sys/kernel/osrelease") + "; CPUs: " + Runtime.getRuntime().availableProcessors()
                + "; JDK: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        for (String tool : List.of("iptables", "iptables-legacy")) {
            try {
                Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
                String v = new String(p.getInputStream().readAllBytes()).strip();
                p.waitFor();
                out.println(tool + ": " + v);
            } catch (IOException | InterruptedException e) {
                out.println(tool + ": not found");
            }
        }
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path)).strip();
        } catch (IOException e) {
            return "?";
        }
    }
}
