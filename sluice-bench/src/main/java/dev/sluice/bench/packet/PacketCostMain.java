package dev.sluice.bench.packet;

import dev.sluice.datapath.Programs;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.LbMapWriter;
import dev.sluice.datapath.lb.LbMaps;
import dev.sluice.datapath.lb.LbStructs.Ct4Key;
import dev.sluice.datapath.lb.LbStructs.Ct4LbEntry;
import dev.sluice.datapath.policy.PolicyStructs;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheKey;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.datapath.policy.PolicyStructs.PolicyEntry;
import dev.sluice.datapath.policy.PolicyStructs.PolicyKey;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.BpfProgram;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.RingBufferReader;
import dev.sluice.libbpf.TestRunResult;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.model.SluiceValues;

import java.io.IOException;
import java.io.PrintStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What one packet costs each pod-veth program, measured by the kernel (BPF_PROG_TEST_RUN's {@code duration}).
 *
 * <p><b>Method.</b> Each variant (a set of compiled objects: a directory of {@code *.bpf.o}, or the ones bundled
 * in sluice-datapath) is loaded unpinned, its maps filled as the agent would (the LB maps by the agent's own
 * {@link LbMapWriter}, Maglev on, {@code --services} Services of 3 backends; the policy maps through the Java
 * mirrors of policy.h: an ipcache of 200 pods, the client pod as the endpoint, one allow rule each way), flow
 * events at the default level {@code medium}, read by a {@link RingBufferReader} as the agent would.
 *
 * <p>The programs rewrite the packet (DNAT, reverse NAT) and create state (conntrack), so a test run with
 * {@code repeat > 1} would measure the first packet once and then whatever the rewritten packet becomes. So
 * every packet is its own {@code BPF_PROG_TEST_RUN} with {@code repeat = 1} (a fresh skb per run, as a real
 * packet), and the kernel's duration of that run is one sample. That duration includes the kernel's timer
 * overhead (one {@code ktime_get_ns} and the loop around the program), so the same is measured for an empty
 * tc program ({@code probe_tc}) and subtracted: "net" = median of the scenario − median of the empty
 * program, in the same round. Packets whose path does not change anything (policy of an established flow,
 * a packet no Service claims) are also run as one test run of {@code --loop} repeats, the kernel's own
 * average over a hot loop, as a check of the method.
 *
 * <p>Scenarios (TCP): a SYN of a new flow (a new source port per packet, 40,000 of them; the conntrack
 * map is emptied and the established flow re-created between passes), a packet of the established flow,
 * and a packet nothing claims. Rounds alternate the variants' order so that drift weighs on both.
 */
public final class PacketCostMain {
    static final int TC_ACT_UNSPEC = -1;
    static final int TC_ACT_SHOT = 2;
    /** BPF_PROG_TEST_RUN's skb is on the calling namespace's loopback device. */
    static final int LOOPBACK = 1;
    static final int TCP = 6;
    static final int FRESH_FLOWS = 40_000;

    static final Inet4Address CLIENT = ip("10.0.0.5");
    static final Inet4Address VIP = ip("10.96.0.10");
    static final int VIP_PORT = 80;
    static final List<Inet4Address> BACKENDS = List.of(ip("10.0.1.1"), ip("10.0.1.2"), ip("10.0.1.3"));
    static final int BACKEND_PORT = 8080;
    static final Inet4Address PEER = ip("10.0.2.9");
    static final int PEER_PORT = 9090;
    static final int CLIENT_PORT = 5000;

    static final int ID_CLIENT = 1000;
    static final int ID_BACKEND = 2000;
    static final int ID_PEER = 3000;
    static final int ENDPOINT_ID = 7;

    private PacketCostMain() {
    }

    /** One measured case: a program of an object, the frames it is given in turn, and what it must return. */
    record Scenario(String object, String program, String name, boolean fresh, boolean loopable, int expected) {
        Scenario(String object, String program, String name, boolean fresh, boolean loopable) {
            this(object, program, name, fresh, loopable, TC_ACT_UNSPEC);
        }

        String label() {
            return program + " " + name;
        }
    }

    static final List<Scenario> SCENARIOS = List.of(
            new Scenario("veth", "from_pod", "new flow (SYN to a Service)", true, false),
            new Scenario("veth", "from_pod", "established (to a Service)", false, false),
            new Scenario("veth", "from_pod", "no Service, no CT", false, true),
            new Scenario("veth", "to_pod", "reply (reverse NAT)", false, false),
            new Scenario("veth", "to_pod", "no CT", false, true),
            new Scenario("policy", "policy_from_pod", "new flow (SYN, allowed)", true, false),
            new Scenario("policy", "policy_from_pod", "established", false, true),
            new Scenario("policy", "policy_to_pod", "reply", false, true),
            new Scenario("policy", "policy_to_pod", "new flow (SYN, allowed)", true, false),
            // An established flow whose endpoint's policy changed to deny it: each of its packets is decided again
            // (the revision it keeps is stale) and dropped, the re-check's whole cost (bpf/pod_policy.bpf.c).
            new Scenario("policy", "policy_from_pod", "established, denied since (re-check)", false, false, TC_ACT_SHOT));

    record Sample(long median, double mean) {
    }

    public static int run(String[] args) throws Exception {
        Map<String, String> variants = new LinkedHashMap<>();
        int rounds = 5;
        int calls = 200_000;
        int loop = 1_000_000;
        int services = 1000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--variant" -> {
                    String[] kv = args[++i].split("=", 2);
                    if (kv.length != 2) {
                        System.err.println("--variant NAME=DIR (a directory of *.bpf.o) or NAME=bundled");
                        return 2;
                    }
                    variants.put(kv[0], kv[1]);
                }
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--calls" -> calls = Integer.parseInt(args[++i]);
                case "--loop" -> loop = Integer.parseInt(args[++i]);
                case "--services" -> services = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("unknown argument " + args[i] + "\nusage: PacketCostBench [--variant NAME=DIR|bundled]... "
                            + "[--rounds 5] [--calls 200000] [--loop 1000000] [--services 1000]");
                    return 2;
                }
            }
        }
        if (variants.isEmpty()) {
            variants.put("bundled", "bundled");
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            System.err.println("PacketCostBench needs root (BPF_PROG_TEST_RUN, map creation)");
            return 1;
        }
        PrintStream out = System.out;
        long start = System.nanoTime();
        out.println("PacketCostBench " + Instant.now());
        out.printf(Locale.ROOT, "kernel %s, %d CPUs, %s, kernel.bpf_stats_enabled=%s%n", Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip(),
                Runtime.getRuntime().availableProcessors(), Runtime.version(), Files.readString(Path.of("/proc/sys/kernel/bpf_stats_enabled")).strip());
        out.printf(Locale.ROOT, "rounds %d, %d test runs (repeat 1) per scenario per round, loop check %d repeats, %d Services%n",
                rounds, calls, loop, services);

        List<Node> nodes = new ArrayList<>();
        try (BpfObject probe = Programs.open(Programs.PROBE).load()) {
            BpfProgram empty = probe.program("probe_tc");
            for (Map.Entry<String, String> v : variants.entrySet()) {
                nodes.add(new Node(v.getKey(), v.getValue(), services));
            }
            for (Node n : nodes) {
                out.println("variant " + n.name + ": " + n.source + "; established flow's backend " + n.backend.getHostAddress());
            }
            byte[] anyFrame = TcpFrames.tcp(CLIENT, CLIENT_PORT, VIP, VIP_PORT, TcpFrames.ACK, 100);
            // results[variant][scenario][round]
            Map<String, Map<String, List<Sample>>> results = new LinkedHashMap<>();
            Map<String, List<Sample>> baselines = new LinkedHashMap<>();
            Map<String, Map<String, List<Long>>> loops = new LinkedHashMap<>();
            for (Node n : nodes) {
                results.put(n.name, new LinkedHashMap<>());
                baselines.put(n.name, new ArrayList<>());
                loops.put(n.name, new LinkedHashMap<>());
            }
            // Warm-up: one short pass of everything, not recorded.
            for (Node n : nodes) {
                measure(empty, List.of(anyFrame), calls / 10, null, TC_ACT_UNSPEC);
                for (Scenario s : SCENARIOS) {
                    n.measure(s, calls / 10);
                }
            }
            for (int r = 0; r < rounds; r++) {
                List<Node> order = new ArrayList<>(nodes);
                if (r % 2 == 1) {
                    java.util.Collections.reverse(order);
                }
                for (Node n : order) {
                    baselines.get(n.name).add(measure(empty, List.of(anyFrame), calls, null, TC_ACT_UNSPEC));
                    for (Scenario s : SCENARIOS) {
                        results.get(n.name).computeIfAbsent(s.label(), k -> new ArrayList<>()).add(n.measure(s, calls));
                    }
                    loops.get(n.name).computeIfAbsent("probe_tc (empty)", k -> new ArrayList<>())
                            .add(empty.testRun(anyFrame, loop).durationNs());
                    for (Scenario s : SCENARIOS) {
                        if (s.loopable()) {
                            loops.get(n.name).computeIfAbsent(s.label(), k -> new ArrayList<>()).add(n.loop(s, loop));
                        }
                    }
                }
                out.printf(Locale.ROOT, "round %d done (%.0f s)%n", r + 1, (System.nanoTime() - start) / 1e9);
            }
            report(out, nodes, results, baselines, loops);
            parts(out, empty, anyFrame, rounds, loop);
            for (Node n : nodes) {
                out.printf(Locale.ROOT, "variant %s: %d flow events read, %d lost in the kernel (ring full)%n", n.name, n.events.get(), n.lost());
            }
        } finally {
            for (Node n : nodes) {
                n.close();
            }
        }
        out.printf(Locale.ROOT, "PacketCostBench done in %.0f s; its objects and maps are closed (nothing was pinned).%n",
                (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private static void report(PrintStream out, List<Node> nodes, Map<String, Map<String, List<Sample>>> results,
                               Map<String, List<Sample>> baselines, Map<String, Map<String, List<Long>>> loops) {
        out.println();
        out.println("ns per packet: median over rounds of [median of the round's test runs − median of the empty program's], "
                + "(mean-based figure), [kernel loop average where the packet is unchanged]");
        Map<String, Map<String, Double>> net = new LinkedHashMap<>();
        for (Node n : nodes) {
            List<Sample> base = baselines.get(n.name);
            out.printf(Locale.ROOT, "%n== %s == empty program (timer overhead): median %d ns, mean %.1f ns (median over rounds)%n", n.name,
                    medianLong(base.stream().mapToLong(Sample::median).toArray()),
                    medianDouble(base.stream().mapToDouble(Sample::mean).toArray()));
            Map<String, Double> nn = new LinkedHashMap<>();
            for (Map.Entry<String, List<Sample>> e : results.get(n.name).entrySet()) {
                List<Sample> s = e.getValue();
                long[] medians = new long[s.size()];
                double[] means = new double[s.size()];
                for (int r = 0; r < s.size(); r++) {
                    medians[r] = s.get(r).median() - base.get(r).median();
                    means[r] = s.get(r).mean() - base.get(r).mean();
                }
                double m = medianLong(medians);
                nn.put(e.getKey(), m);
                List<Long> l = loops.get(n.name).get(e.getKey());
                String loopText = l == null ? "" : String.format(Locale.ROOT, "  [loop %d ns]", medianLong(l.stream().mapToLong(x -> x).toArray()));
                out.printf(Locale.ROOT, "  %-50s %6.0f ns  (mean-based %6.1f ns)  rounds %s%s%n", e.getKey(), m, medianDouble(means),
                        Arrays.toString(medians), loopText);
            }
            List<Long> pl = loops.get(n.name).get("probe_tc (empty)");
            out.printf(Locale.ROOT, "  %-50s [loop %d ns]%n", "probe_tc (empty)", medianLong(pl.stream().mapToLong(x -> x).toArray()));
            net.put(n.name, nn);
            out.println("  chains (sum of the programs one packet crosses on the veth):");
            chain(out, nn, "leaving the pod, new Service flow", "from_pod new flow (SYN to a Service)", "policy_from_pod new flow (SYN, allowed)");
            chain(out, nn, "leaving the pod, established Service flow", "from_pod established (to a Service)", "policy_from_pod established");
            chain(out, nn, "leaving the pod, no Service (socket LB did it)", "from_pod no Service, no CT", "policy_from_pod established");
            chain(out, nn, "entering the pod, reply of a Service flow", "policy_to_pod reply", "to_pod reply (reverse NAT)");
            chain(out, nn, "entering the pod, reply, no LB CT", "policy_to_pod reply", "to_pod no CT");
            chain(out, nn, "entering the pod, new flow", "policy_to_pod new flow (SYN, allowed)", "to_pod no CT");
        }
        if (nodes.size() > 1) {
            String first = nodes.get(0).name;
            for (Node n : nodes.subList(1, nodes.size())) {
                out.printf(Locale.ROOT, "%n== %s / %s (net medians) ==%n", n.name, first);
                for (String k : net.get(first).keySet()) {
                    double a = net.get(first).get(k);
                    double b = net.get(n.name).get(k);
                    out.printf(Locale.ROOT, "  %-50s %6.0f -> %6.0f ns  ratio %.2f%n", k, a, b, b / a);
                }
            }
        }
    }

    static final List<String> PARTS = List.of("part_parse", "part_parse_ktime", "part_parse_ct", "part_parse_ct2");

    /**
     * The pieces of a pod-veth program alone (sluice-bench/src/main/bpf/packet_parts.bpf.c), each as the
     * kernel's loop average over one established-flow packet minus the empty program's: what one parse, one
     * clock read and one CT hit cost, i.e. what a program per hook with one table could save per packet.
     */
    private static void parts(PrintStream out, BpfProgram empty, byte[] anyFrame, int rounds, int loop) {
        byte[] frame = TcpFrames.tcp(CLIENT, CLIENT_PORT, BACKENDS.get(0), BACKEND_PORT, TcpFrames.ACK | TcpFrames.PSH, 100);
        try (BpfObject o = BpfObject.openResource(PacketCostMain.class, "/bpf/packet_parts.bpf.o").load()) {
            o.map("part_ct_policy").typed(Ct4Tuple.CODEC, Ct4Entry.CODEC).update(
                    new Ct4Tuple(CLIENT, BACKENDS.get(0), CLIENT_PORT, BACKEND_PORT, TCP, dev.sluice.datapath.abi.Direction.EGRESS.value()),
                    new Ct4Entry(Long.MAX_VALUE, 1, 100, 1, 100, ID_CLIENT, 0, dev.sluice.datapath.abi.Direction.EGRESS.value(), 11));
            o.map("part_ct_lb").typed(Ct4Key.CODEC, Ct4LbEntry.CODEC).update(
                    new Ct4Key(CLIENT, BACKENDS.get(0), CLIENT_PORT, BACKEND_PORT, TCP),
                    new Ct4LbEntry(0, 1, BACKENDS.get(0), BACKEND_PORT, 1, VIP, VIP_PORT, 0));
            Map<String, List<Long>> net = new LinkedHashMap<>();
            for (int r = 0; r < rounds; r++) {
                long base = empty.testRun(anyFrame, loop).durationNs();
                for (String p : PARTS) {
                    TestRunResult result = o.program(p).testRun(frame, loop);
                    if (result.retval() != TC_ACT_UNSPEC) {
                        throw new IllegalStateException(p + " returned " + result.retval());
                    }
                    net.computeIfAbsent(p, k -> new ArrayList<>()).add(result.durationNs() - base);
                }
            }
            out.printf(Locale.ROOT, "%n== program pieces (kernel loop of %d, minus the empty program's loop; median of %d rounds) ==%n", loop, rounds);
            Map<String, Long> m = new LinkedHashMap<>();
            for (String p : PARTS) {
                m.put(p, medianLong(net.get(p).stream().mapToLong(x -> x).toArray()));
                out.printf(Locale.ROOT, "  %-20s %4d ns  rounds %s%n", p, m.get(p), net.get(p));
            }
            out.printf(Locale.ROOT, "  => parse %d ns, clock read %d ns, CT hit (policy table) %d ns, second CT hit (LB table) %d ns%n",
                    m.get("part_parse"), m.get("part_parse_ktime") - m.get("part_parse"), m.get("part_parse_ct") - m.get("part_parse"),
                    m.get("part_parse_ct2") - m.get("part_parse_ct"));
        }
    }

    private static void chain(PrintStream out, Map<String, Double> nn, String label, String a, String b) {
        out.printf(Locale.ROOT, "    %-48s %6.0f ns  (%s %.0f + %s %.0f)%n", label, nn.get(a) + nn.get(b), a.split(" ")[0], nn.get(a),
                b.split(" ")[0], nn.get(b));
    }

    static long medianLong(long[] v) {
        long[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }

    static double medianDouble(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }

    /**
     * {@code calls} test runs of one packet each, cycling through {@code frames}; {@code reset} runs before
     * the first and whenever the frames are used up (fresh flows), outside any timing.
     */
    static Sample measure(BpfProgram program, List<byte[]> frames, int calls, Runnable reset, int expected) {
        long[] d = new long[calls];
        int k = 0;
        if (reset != null) {
            reset.run();
        }
        for (int i = 0; i < calls; i++) {
            if (k == frames.size()) {
                k = 0;
                if (reset != null) {
                    reset.run();
                }
            }
            TestRunResult r = program.testRun(frames.get(k++), 1);
            if (r.retval() != expected) {
                throw new IllegalStateException(program + " returned " + r.retval() + ", expected " + expected);
            }
            d[i] = r.durationNs();
        }
        long sum = 0;
        for (long x : d) {
            sum += x;
        }
        Arrays.sort(d);
        return new Sample(d[d.length / 2], (double) sum / d.length);
    }

    static Inet4Address ip(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(dotted, e);
        }
    }

    /** One variant's objects, filled maps and frames. */
    static final class Node implements AutoCloseable {
        final String name;
        final String source;
        final BpfObject veth;
        final BpfObject policy;
        final AtomicLong events = new AtomicLong();
        final List<RingBufferReader<FlowEvent>> readers = new ArrayList<>();
        final TypedMap<Ct4Key, Ct4LbEntry> lbCt;
        final TypedMap<Ct4Tuple, Ct4Entry> policyCt;
        final TypedMap<Ct4Tuple, Ct4Entry> policyCtNew;
        final Inet4Address backend;
        final Map<String, List<byte[]>> frames = new LinkedHashMap<>();

        Node(String name, String source, int services) throws IOException {
            this.name = name;
            this.source = source.equals("bundled") ? "objects bundled in sluice-datapath" : source;
            veth = open(source, Programs.POD_VETH).load();
            BpfObject p = null;
            try {
                p = open(source, Programs.POD_POLICY).load();
            } finally {
                if (p == null) {
                    veth.close();
                }
            }
            policy = p;
            try {
                for (BpfObject o : List.of(veth, policy)) {
                    o.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(Aggregation.MEDIUM));
                    readers.add(RingBufferReader.start(o.map(FlowStructs.MAP_EVENTS), FlowEvent.CODEC, e -> events.incrementAndGet(), 65_536));
                }
                lbCt = veth.map("ct4_lb").typed(Ct4Key.CODEC, Ct4LbEntry.CODEC);
                policyCt = policy.map(PolicyStructs.MAP_CT).typed(Ct4Tuple.CODEC, Ct4Entry.CODEC);
                policyCtNew = policy.map(PolicyStructs.MAP_CT_NEW).typed(Ct4Tuple.CODEC, Ct4Entry.CODEC);
                fillLb(services);
                fillPolicy();
                primeLb();
                backend = lbCt.lookup(new Ct4Key(CLIENT, VIP, CLIENT_PORT, VIP_PORT, TCP)).orElseThrow(
                        () -> new IllegalStateException(name + ": from_pod made no conntrack entry for the Service flow")).backendAddress();
                buildFrames();
                primePolicy();
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        private static BpfObject open(String source, String object) throws IOException {
            if (source.equals("bundled")) {
                return Programs.open(object);
            }
            return BpfObject.open(object, Files.readAllBytes(Path.of(source, object + ".bpf.o")));
        }

        private void fillLb(int services) {
            LbMapWriter writer = new LbMapWriter(LbMaps.of(veth::map), SluiceValues.DEFAULT_MAGLEV_TABLE_SIZE, true);
            List<Frontend> frontends = new ArrayList<>();
            List<Backend> measured = new ArrayList<>();
            for (int b = 0; b < BACKENDS.size(); b++) {
                measured.add(new Backend(BACKENDS.get(b).getHostAddress(), BACKEND_PORT, TCP, b + 1, "web-" + b));
            }
            frontends.add(new Frontend("bench/web", "http", VIP.getHostAddress(), VIP_PORT, TCP, 1, false, 0, measured));
            for (int s = 1; s < services; s++) {
                List<Backend> bs = new ArrayList<>();
                for (int b = 0; b < 3; b++) {
                    int id = 3 * s + b + 1;
                    bs.add(new Backend("10.2." + (id >> 8 & 0xff) + "." + (id & 0xff), BACKEND_PORT, TCP, id, "svc" + s + "-" + b));
                }
                frontends.add(new Frontend("bench/svc" + s, "http", "10.97." + (s >> 8 & 0xff) + "." + (s & 0xff), VIP_PORT, TCP, s + 1,
                        false, 0, bs));
            }
            writer.sync(frontends);
        }

        private void fillPolicy() {
            TypedMap<IpcacheKey, IpcacheValue> ipcache = policy.map(PolicyStructs.MAP_IPCACHE).typed(IpcacheKey.CODEC, IpcacheValue.CODEC);
            ipcache.update(IpcacheKey.host(CLIENT), new IpcacheValue(ID_CLIENT, 0));
            for (Inet4Address b : BACKENDS) {
                ipcache.update(IpcacheKey.host(b), new IpcacheValue(ID_BACKEND, 0));
            }
            ipcache.update(IpcacheKey.host(PEER), new IpcacheValue(ID_PEER, 0));
            for (int k = 0; k < 200; k++) {
                ipcache.update(IpcacheKey.host(ip("10.3." + k / 100 + "." + (k % 100 + 1))), new IpcacheValue(4000 + k / 10, 0));
            }
            ipcache.update(new IpcacheKey(16, ip("172.16.0.0")), new IpcacheValue(16_777_217, 0)); // a CIDR identity
            policy.map(PolicyStructs.MAP_ENDPOINTS).typed(Codecs.u32(), EndpointInfo.CODEC).update(LOOPBACK,
                    // The client's MAC as TcpFrames writes it, so that the source MAC check runs (and passes).
                    new EndpointInfo(ID_CLIENT, ENDPOINT_ID, true, true, 900, 901, CLIENT, 0, 0x02_00_00_00_00_01L));
            TypedMap<PolicyKey, PolicyEntry> entries = policy.map(PolicyStructs.MAP_POLICY).typed(PolicyKey.CODEC, PolicyEntry.CODEC);
            entries.update(new PolicyKey(ID_BACKEND, ENDPOINT_ID, dev.sluice.datapath.abi.Direction.EGRESS.value(), TCP, BACKEND_PORT), PolicyEntry.allow(11));
            entries.update(new PolicyKey(ID_PEER, ENDPOINT_ID, dev.sluice.datapath.abi.Direction.INGRESS.value(), TCP, PEER_PORT), PolicyEntry.allow(12));
        }

        private void revision(int revision) {
            policy.map(PolicyStructs.MAP_POLICY_REVISIONS).typed(Codecs.u32(), PolicyStructs.PolicyRevision.CODEC)
                    .update(ENDPOINT_ID, new PolicyStructs.PolicyRevision(revision, LOOPBACK));
        }

        /**
         * The flow that policy denies since it was established (CLIENT:CLIENT_PORT+3 -> PEER:PEER_PORT): admitted by
         * rule 13 under revision 1, then rule 13 removed and the revision moved to 2, as the agent does.
         */
        private void primeDenied() {
            PolicyKey egressToPeer = new PolicyKey(ID_PEER, ENDPOINT_ID, dev.sluice.datapath.abi.Direction.EGRESS.value(), TCP, PEER_PORT);
            TypedMap<PolicyKey, PolicyEntry> entries = policy.map(PolicyStructs.MAP_POLICY).typed(PolicyKey.CODEC, PolicyEntry.CODEC);
            entries.update(egressToPeer, PolicyEntry.allow(13));
            revision(1);
            run("policy_from_pod", TcpFrames.tcp(CLIENT, CLIENT_PORT + 3, PEER, PEER_PORT, TcpFrames.SYN, 0));
            run("policy_to_pod", TcpFrames.tcp(PEER, PEER_PORT, CLIENT, CLIENT_PORT + 3, TcpFrames.SYN | TcpFrames.ACK, 0));
            run("policy_from_pod", TcpFrames.tcp(CLIENT, CLIENT_PORT + 3, PEER, PEER_PORT, TcpFrames.ACK, 0));
            entries.delete(egressToPeer);
            revision(2);
        }

        /** The established Service flow: its SYN through from_pod, which makes both ct4_lb entries. */
        private void primeLb() {
            run("from_pod", TcpFrames.tcp(CLIENT, CLIENT_PORT, VIP, VIP_PORT, TcpFrames.SYN, 0));
        }

        /** The established flow as policy sees it (after DNAT): SYN out, SYN-ACK in, ACK out. */
        private void primePolicy() {
            run("policy_from_pod", TcpFrames.tcp(CLIENT, CLIENT_PORT, backend, BACKEND_PORT, TcpFrames.SYN, 0));
            run("policy_to_pod", TcpFrames.tcp(backend, BACKEND_PORT, CLIENT, CLIENT_PORT, TcpFrames.SYN | TcpFrames.ACK, 0));
            run("policy_from_pod", TcpFrames.tcp(CLIENT, CLIENT_PORT, backend, BACKEND_PORT, TcpFrames.ACK, 0));
            Ct4Entry e = policyCt.lookup(new Ct4Tuple(CLIENT, backend, CLIENT_PORT, BACKEND_PORT, TCP, dev.sluice.datapath.abi.Direction.EGRESS.value())).orElseThrow(
                    () -> new IllegalStateException(name + ": policy_from_pod made no conntrack entry: is endpoints[" + LOOPBACK
                            + "] not the test run's device?"));
            if (e.rxPackets() != 1 || e.txPackets() != 2) {
                throw new IllegalStateException(name + ": unexpected policy conntrack entry after the handshake: " + e);
            }
            primeDenied();
        }

        private void run(String program, byte[] frame) {
            BpfProgram p = (program.startsWith("policy") ? policy : veth).program(program);
            int rv = p.testRun(frame, 1).retval();
            if (rv != TC_ACT_UNSPEC) {
                throw new IllegalStateException(name + ": " + program + " returned " + rv + " while priming");
            }
        }

        private void buildFrames() {
            List<byte[]> lbSyn = new ArrayList<>();
            List<byte[]> policySyn = new ArrayList<>();
            List<byte[]> inSyn = new ArrayList<>();
            for (int i = 0; i < FRESH_FLOWS; i++) {
                lbSyn.add(TcpFrames.tcp(CLIENT, 10_000 + i, VIP, VIP_PORT, TcpFrames.SYN, 0));
                policySyn.add(TcpFrames.tcp(CLIENT, 10_000 + i, BACKENDS.get(i % BACKENDS.size()), BACKEND_PORT, TcpFrames.SYN, 0));
                inSyn.add(TcpFrames.tcp(PEER, 10_000 + i, CLIENT, PEER_PORT, TcpFrames.SYN, 0));
            }
            byte[] out = TcpFrames.tcp(CLIENT, CLIENT_PORT, VIP, VIP_PORT, TcpFrames.ACK | TcpFrames.PSH, 100);
            byte[] outTranslated = TcpFrames.tcp(CLIENT, CLIENT_PORT, backend, BACKEND_PORT, TcpFrames.ACK | TcpFrames.PSH, 100);
            byte[] reply = TcpFrames.tcp(backend, BACKEND_PORT, CLIENT, CLIENT_PORT, TcpFrames.ACK | TcpFrames.PSH, 100);
            byte[] direct = TcpFrames.tcp(CLIENT, CLIENT_PORT + 1, BACKENDS.get(0), BACKEND_PORT, TcpFrames.ACK | TcpFrames.PSH, 100);
            byte[] unknownIn = TcpFrames.tcp(PEER, PEER_PORT, CLIENT, CLIENT_PORT + 2, TcpFrames.ACK | TcpFrames.PSH, 100);
            frames.put("from_pod new flow (SYN to a Service)", lbSyn);
            frames.put("from_pod established (to a Service)", List.of(out));
            frames.put("from_pod no Service, no CT", List.of(direct));
            frames.put("to_pod reply (reverse NAT)", List.of(reply));
            frames.put("to_pod no CT", List.of(unknownIn));
            frames.put("policy_from_pod new flow (SYN, allowed)", policySyn);
            frames.put("policy_from_pod established", List.of(outTranslated));
            frames.put("policy_to_pod reply", List.of(reply));
            frames.put("policy_to_pod new flow (SYN, allowed)", inSyn);
            frames.put("policy_from_pod established, denied since (re-check)",
                    List.of(TcpFrames.tcp(CLIENT, CLIENT_PORT + 3, PEER, PEER_PORT, TcpFrames.ACK | TcpFrames.PSH, 100)));
        }

        Sample measure(Scenario s, int calls) {
            BpfProgram p = (s.object().equals("veth") ? veth : policy).program(s.program());
            Runnable reset = null;
            if (s.fresh()) {
                reset = s.object().equals("veth") ? () -> {
                    clear(lbCt);
                    primeLb();
                } : () -> {
                    clear(policyCt);
                    clear(policyCtNew);
                    primePolicy();
                };
            }
            return PacketCostMain.measure(p, frames.get(s.label()), calls, reset, s.expected());
        }

        /** The kernel's own average over {@code repeat} runs of one unchanged packet. */
        long loop(Scenario s, int repeat) {
            BpfProgram p = (s.object().equals("veth") ? veth : policy).program(s.program());
            TestRunResult r = p.testRun(frames.get(s.label()).get(0), repeat);
            if (r.retval() != TC_ACT_UNSPEC) {
                throw new IllegalStateException(name + ": " + s.label() + " returned " + r.retval());
            }
            return r.durationNs();
        }

        private static <K, V> void clear(TypedMap<K, V> map) {
            List<K> keys = map.keys();
            try {
                map.deleteBatch(keys);
            } catch (RuntimeException e) {
                keys.forEach(map::delete);
            }
        }

        long lost() {
            long sum = 0;
            for (BpfObject o : List.of(veth, policy)) {
                sum += o.map(FlowStructs.MAP_LOST).typedPerCpu(Codecs.u32(), Codecs.u64()).lookup(0).orElseThrow().stream()
                        .mapToLong(Long::longValue).sum();
            }
            return sum;
        }

        @Override
        public void close() {
            readers.forEach(RingBufferReader::close);
            if (policy != null) {
                policy.close();
            }
            veth.close();
        }
    }
}
