package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.sockmap.SockmapMaps;
import dev.sluice.datapath.sockmap.SockmapStructs;
import dev.sluice.lab.Lab;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.JavaCommand;
import dev.sluice.linux.Libc;
import dev.sluice.model.ManifestReader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The same-node socket bypass, on and off in the same run: request/response latency (p50, p99) and rounds per
 * second between two pods of one node for 64 B, 1 KiB and 64 KiB messages (the same size each way, one message in
 * flight), and one-way bulk throughput, with `sluice transfer` in the pods.
 *
 * <p>The lab runs with {@code sockops.enabled: false} (its agent attaches nothing); this benchmark loads
 * bpf/sock_bypass.bpf.c against the node's pinned maps itself, keeps the sk_msg program on the map, and attaches the
 * sockops program to the pods' cgroup for the "on" rounds only: the same programs and maps as the agent's, and a
 * connection opened while it is detached is never inserted. Rounds alternate which mode goes first. Each run checks
 * its mode in the counters: "on" runs must have redirected messages, "off" runs none.
 *
 * <p>Usage: {@code SockmapBench [ROUNDS (5)] [MESSAGES (5000)] [c1|c2 (c1)]}: c1 runs the pods' JVMs as the lab runs
 * its tools (C1 only, JavaCommand's default), c2 with the optimizing compiler. Needs root; makes and removes a lab
 * named {@code bsockmap<pid>}.
 */
public final class SockmapBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PORT = 7000;
    private static final int[] SIZES = {64, 1024, 64 * 1024};

    private SockmapBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int messages = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        List<String> jvm = args.length > 2 && args[2].equals("c2") ? List.of("-Xmx256m", "-XX:TieredStopAtLevel=4") : List.of("-Xmx256m");
        Path dir = Files.createTempDirectory("sockmap-bench");
        Lab lab = Lab.named("bsockmap" + ProcessHandle.current().pid());
        try {
            String server = JSON.valueToTree(JavaCommand.of("dev.sluice.workload.cli.TransferServerCommand", jvm,
                    List.of("--port", Integer.toString(PORT)))).toString();
            Files.writeString(dir.resolve("pods.yaml"), pod("a", "[\"sleep\", \"infinity\"]", false) + pod("b", server, true));
            Files.writeString(dir.resolve("values.yaml"), "sockops:\n  enabled: false\n");
            lab.up(1, ManifestReader.read(List.of(dir.resolve("pods.yaml"))), dir.resolve("values.yaml"));
            String node = lab.pod("a").node();
            String target = lab.pod("b").ip() + ":" + PORT;
            Path cgroup = Path.of(lab.state().node(node).orElseThrow().cgroup());
            System.out.printf("lab up; load average before: %s", Files.readString(Path.of("/proc/loadavg")));
            try (BpfObject object = Programs.openForNode(Programs.SOCK_BYPASS, lab.layout(node).maps(), 4096 * 1024).load();
                 BpfLink msg = object.program("sock_bypass_msg").attachSkMsg(object.map(SockmapStructs.MAP_SOCKETS))) {
                SockmapMaps maps = new SockmapMaps(object.map(SockmapStructs.MAP_SOCKETS), object.map(SockmapStructs.MAP_COUNTERS));
                Map<String, List<double[]>> results = new LinkedHashMap<>();
                for (int round = 1; round <= rounds; round++) {
                    for (boolean on : round % 2 == 1 ? new boolean[] {true, false} : new boolean[] {false, true}) {
                        BpfLink ops = on ? attach(object, cgroup) : null;
                        try {
                            for (int size : SIZES) {
                                long before = maps.counters().redirectedMsgs();
                                JsonNode r = run(lab, jvm, "--rounds", Integer.toString(size >= 65536 ? messages / 5 : messages), "--upload",
                                        Integer.toString(size), "--download", Integer.toString(size), "--no-check", target);
                                check(on, maps.counters().redirectedMsgs() - before, r);
                                results.computeIfAbsent(size + " B " + (on ? "on" : "off"), k -> new ArrayList<>())
                                        .add(new double[] {r.path("p50us").asDouble(), r.path("p99us").asDouble(), r.path("roundsPerSec").asDouble()});
                            }
                            long before = maps.counters().redirectedMsgs();
                            JsonNode bulk = run(lab, jvm, "--upload", Long.toString(512L << 20), "--no-check", target);
                            check(on, maps.counters().redirectedMsgs() - before, bulk);
                            results.computeIfAbsent("bulk " + (on ? "on" : "off"), k -> new ArrayList<>())
                                    .add(new double[] {bulk.path("mbPerSec").asDouble()});
                        } finally {
                            if (ops != null) {
                                ops.close();
                            }
                        }
                    }
                    System.out.printf("round %d of %d done%n", round, rounds);
                }
                report(results, rounds, messages);
            }
            System.out.printf("load average after: %s", Files.readString(Path.of("/proc/loadavg")));
        } finally {
            // Only a lab that came up (or half did): a failed `lab up` removed what it made, and its error is the one to see.
            if (Files.exists(lab.store().dir())) {
                lab.down();
            }
        }
    }

    private static BpfLink attach(BpfObject object, Path cgroup) {
        int fd = Cgroups.openFd(cgroup);
        try {
            return object.program("sock_bypass_ops").attachCgroup(fd);
        } finally {
            Libc.close(fd);
        }
    }

    private static void check(boolean on, long redirected, JsonNode r) {
        if (!r.path("ok").asBoolean()) {
            throw new IllegalStateException("transfer failed: " + r);
        }
        if (on != (redirected > 0)) {
            throw new IllegalStateException("bypass " + (on ? "on" : "off") + " but " + redirected + " message(s) redirected: " + r);
        }
    }

    private static JsonNode run(Lab lab, List<String> jvm, String... args) throws Exception {
        var result = lab.execCapture("a", JavaCommand.of("dev.sluice.workload.cli.TransferCommand", jvm, List.of(args)));
        String line = result.stdout().lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b)
                .orElseThrow(() -> new IllegalStateException("no result: " + result.stdout() + result.stderr()));
        return JSON.readTree(line);
    }

    /** Per case: the median over rounds of each figure, on and off side by side. */
    private static void report(Map<String, List<double[]>> results, int rounds, int messages) {
        System.out.printf("%n%d rounds, %d messages per run (64 KiB: %d), medians over rounds%n", rounds, messages, messages / 5);
        System.out.printf("%-8s %12s %12s %8s %12s %12s %8s %12s %12s%n", "size", "p50 off", "p50 on", "on/off", "p99 off", "p99 on", "on/off",
                "rt/s off", "rt/s on");
        for (int size : SIZES) {
            double[] off = medians(results.get(size + " B off"));
            double[] on = medians(results.get(size + " B on"));
            System.out.printf("%-8s %10.1f us %10.1f us %8.2f %10.1f us %10.1f us %8.2f %12.0f %12.0f%n", size + " B", off[0], on[0], on[0] / off[0],
                    off[1], on[1], on[1] / off[1], off[2], on[2]);
        }
        double off = medians(results.get("bulk off"))[0];
        double on = medians(results.get("bulk on"))[0];
        System.out.printf("bulk 512 MiB one way: off %.0f MB/s, on %.0f MB/s, on/off %.2f%n", off, on, on / off);
        System.out.println("every run: " + render(results));
    }

    private static String render(Map<String, List<double[]>> results) {
        StringBuilder b = new StringBuilder();
        results.forEach((k, v) -> {
            b.append("\n  ").append(k).append(':');
            v.forEach(x -> b.append(' ').append(java.util.Arrays.toString(java.util.Arrays.stream(x).map(d -> Math.round(d * 10) / 10.0).toArray())));
        });
        return b.toString();
    }

    private static double[] medians(List<double[]> runs) {
        int n = runs.getFirst().length;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            int f = i;
            double[] col = runs.stream().mapToDouble(x -> x[f]).sorted().toArray();
            out[i] = col[col.length / 2];
        }
        return out;
    }

    private static String pod(String name, String command, boolean listens) {
        return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", labels: {app: " + name + "}}\nspec:\n  nodeName: node-1"
                + "\n  containers:\n  - name: " + name + "\n    image: sluice/toolbox\n    command: " + command + "\n"
                + (listens ? "    ports:\n    - containerPort: " + PORT + "\n" : "");
    }
}
