package dev.sluice.bench.flow;

import dev.sluice.agent.flow.FlowEnricher;
import dev.sluice.agent.flow.FlowPipeline;
import dev.sluice.bench.lb.Cleanup;
import dev.sluice.bench.lb.Names;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.datapath.policy.PolicyStructs;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.PolicyEntry;
import dev.sluice.datapath.policy.PolicyStructs.PolicyKey;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.RingBufferReader;
import dev.sluice.libbpf.TcDirection;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.linux.NetNs;
import dev.sluice.model.SluiceValues;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.metrics.FlowMetrics;
import dev.sluice.observe.v1.Flow;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

import static dev.sluice.datapath.abi.Direction.INGRESS;
import static dev.sluice.datapath.abi.Protocol.TCP;

/**
 * The latency half of {@code FlowBench}: what flow events cost a new connection on the L4 policy path.
 *
 * <p>Three namespaces made for the run, as the datapath tests build a node: a "node" namespace that routes,
 * and two pod namespaces joined to it by veths (client pod 11, 198.51.100.21; server pod 0, 198.51.100.10,
 * of {@link BenchCluster}). pod_policy (unpinned, the default 4 MiB ring) is attached with tcx to both
 * host-side veths, {@code policy_from_pod} on ingress and {@code policy_to_pod} on egress, as the agent
 * attaches it; the server enforces ingress and one allow entry lets the client reach TCP 8080. A real
 * {@link FlowPipeline} in this JVM reads the events into a FlowRing, as the agent would. The server
 * ({@link ServerMain}, a ByteServer) and the client ({@link PacedClient}) are JVMs of their own inside their
 * pods' namespaces, so that this JVM's work (the pipeline, its GC and JIT) competes with them for the CPUs,
 * as an agent does on a node, but never pauses them.
 *
 * <p>Modes, switched through flow_config between blocks of the same run: ON, aggregation MEDIUM (the
 * default: each connection reports its first packet and its end at both veths), and OFF, level DISABLED
 * (the programs run the same policy and conntrack, but write no event). After a warm-up of both, blocks
 * alternate ON OFF, OFF ON, ... so that a drift of the machine weighs on both modes alike; per-block p50s
 * are paired (each ON block with the OFF block next to it) to tell a cost from the noise.
 */
final class FlowLatencyBench {
    private static final int CLIENT_POD = 11;
    private static final int SERVER_POD = 0;
    private static final int SERVER_ENDPOINT_ID = 1;
    private static final int CLIENT_ENDPOINT_ID = 11;
    /** 97.5 % quantiles of Student's t for 1..30 degrees of freedom (two-sided 95 % intervals). */
    private static final double[] T975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

    private final Cleanup cleanup;
    private final PrintStream out;
    private BpfObject object;
    private FlowRing ring;
    private FlowPipeline pipeline;
    private NetNs node;
    private NetNs clientNs;
    private NetNs serverNs;
    private ChildJvm server;
    /** Events read so far by whatever reads the ring in the current blocks. */
    private LongSupplier eventsRead = () -> ring.counters().seenFlows();
    private final Map<NetNs, String> hostVeths = new HashMap<>();

    FlowLatencyBench(Cleanup cleanup, PrintStream out) {
        this.cleanup = cleanup;
        this.out = out;
    }

    private record Block(String mode, Histogram histogram, long flows, int late) {
    }

    void run(int warmup, int blocks, int blockSize, int rate, int diagnoseBlocks) throws IOException, InterruptedException {
        out.printf(Locale.ROOT, "%n== Latency cost of flow events: new TCP connection + 1 byte each way + close, paced at %d/s; "
                + "%d blocks x %d requests per mode (ON = aggregation medium, OFF = level disabled), after %d warm-up requests per mode ==%n",
                rate, blocks, blockSize, warmup);
        setUp();
        Client client = new Client(rate);
        for (String mode : List.of(ON, OFF)) {
            Block w = block(client, mode, warmup);
            out.printf(Locale.ROOT, "  warm-up %-3s p50 %6.1f us  p90 %6.1f  p99 %7.1f  (%d flows)%n", mode, us(w.histogram(), 50),
                    us(w.histogram(), 90), us(w.histogram(), 99), w.flows());
        }
        List<Block> main = blocks(client, ON, OFF, blocks, blockSize);
        FlowPipeline.Lost lost = pipeline.collectLost();
        report(main, lost);
        if (diagnoseBlocks > 0) {
            diagnose(client, diagnoseBlocks, blockSize);
        }
        client.jvm.close();
        server.close();
    }

    /**
     * Where a cost comes from, with the FlowPipeline stopped: {@value #ON_RAW_READER}, a bare RingBufferReader that
     * decodes each event and counts it (the same two reader threads and wake-ups, no enrichment, ring or
     * metrics); {@value #ON_NO_READER}, nobody reading at all (the programs still write every event: the ring
     * has room for them, and they are read afterwards to show it). Each against OFF, in pairs as above.
     */
    private void diagnose(Client client, int pairs, int blockSize) throws IOException, InterruptedException {
        pipeline.close();
        out.printf(Locale.ROOT, "%n-- Diagnosis 1: %s = aggregation medium read by a bare RingBufferReader (decode + count, no enrichment), "
                + "FlowPipeline stopped; against OFF, %d pairs of blocks --%n", ON_RAW_READER, pairs);
        AtomicLong decoded = new AtomicLong();
        List<Block> raw;
        try (RingBufferReader<FlowEvent> reader = RingBufferReader.start(object.map(FlowStructs.MAP_EVENTS), FlowEvent::decode,
                e -> decoded.incrementAndGet(), 65_536)) {
            eventsRead = decoded::get;
            raw = blocks(client, ON_RAW_READER, OFF, pairs, blockSize);
        }
        summary(raw, ON_RAW_READER);

        out.printf(Locale.ROOT, "%n-- Diagnosis 2: %s = aggregation medium with nobody reading the ring (events written, not read); "
                + "against OFF, %d pairs of blocks --%n", ON_NO_READER, pairs);
        eventsRead = () -> 0;
        long lostBefore = kernelLost();
        List<Block> none = blocks(client, ON_NO_READER, OFF, pairs, blockSize);
        long lostDuring = kernelLost() - lostBefore;
        // Read what was written meanwhile, to show that the events were there.
        long seenBefore = ring.counters().seenFlows();
        pipeline = new FlowPipeline(object, Aggregation.DISABLED, ring, new FlowEnricher(BenchCluster.directory()),
                new FlowMetrics(new PrometheusRegistry()));
        cleanup.addProcessLocal("flow pipeline", pipeline);
        long deadline = System.nanoTime() + 10_000_000_000L;
        long seen;
        long stable = -1;
        while ((seen = ring.counters().seenFlows()) != stable && System.nanoTime() < deadline) {
            stable = seen;
            Thread.sleep(300);
        }
        summary(none, ON_NO_READER);
        long requests = none.stream().filter(b -> b.mode().equals(ON_NO_READER)).mapToLong(b -> b.histogram().getTotalCount()).sum();
        out.printf(Locale.ROOT, "Events the programs wrote while nobody read (read afterwards): %d (%.2f per %s request); flow_lost +%d%n",
                seen - seenBefore, (double) (seen - seenBefore) / requests, ON_NO_READER, lostDuring);
    }

    private static final String ON = "ON";
    private static final String OFF = "OFF";
    private static final String ON_NO_READER = "ON-noreader";
    private static final String ON_RAW_READER = "ON-rawreader";

    /** Pairs of blocks, a b / b a / ..., printed as they come. */
    private List<Block> blocks(Client client, String a, String b, int pairs, int blockSize) throws IOException, InterruptedException {
        List<Block> all = new ArrayList<>();
        for (int i = 0; i < pairs; i++) {
            List<String> order = i % 2 == 0 ? List.of(a, b) : List.of(b, a);
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  block %2d:", i + 1));
            for (String mode : order) {
                Block r = block(client, mode, blockSize);
                all.add(r);
                line.append(String.format(Locale.ROOT, "  %-3s p50 %6.1f p90 %6.1f p99 %7.1f us, %5d flows, %d late;", mode,
                        us(r.histogram(), 50), us(r.histogram(), 90), us(r.histogram(), 99), r.flows(), r.late()));
            }
            out.println(line);
        }
        return all;
    }

    private long kernelLost() {
        return object.map(FlowStructs.MAP_LOST).typedPerCpu(Codecs.u32(), Codecs.u64()).lookup(0).orElseThrow().stream()
                .mapToLong(Long::longValue).sum();
    }

    // ---- the node

    private void setUp() throws IOException, InterruptedException {
        object = Programs.open(Programs.POD_POLICY).load();
        cleanup.addProcessLocal("pod_policy object", object);
        node = NetNs.create(Names.unique("fbn"));
        cleanup.add("namespace " + node.name(), node);
        node.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1").orThrow();
        clientNs = pod("fbc", BenchCluster.podAddress(CLIENT_POD));
        serverNs = pod("fbs", BenchCluster.podAddress(SERVER_POD));
        // The client closes first, so its TIME_WAIT sockets (60 s) hold ports: tens of thousands of them make each
        // connect()'s search for a free port take milliseconds. A wide range and reusing TIME_WAIT ports older
        // than a second (tcp_tw_reuse, this namespace only) keep that search short for a whole run.
        clientNs.exec("sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=10000 65000").orThrow();
        clientNs.exec("sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1").orThrow();

        BenchCluster.fillIpcache(object);
        TypedMap<Integer, EndpointInfo> endpoints = object.map(PolicyStructs.MAP_ENDPOINTS).typed(Codecs.u32(), EndpointInfo.CODEC);
        endpoints.update(node.ifindex(hostVeths.get(clientNs)), new EndpointInfo(BenchCluster.identity(CLIENT_POD), CLIENT_ENDPOINT_ID,
                false, false, 0, 0, BenchCluster.ip(BenchCluster.podAddress(CLIENT_POD)), 0));
        endpoints.update(node.ifindex(hostVeths.get(serverNs)), new EndpointInfo(BenchCluster.identity(SERVER_POD), SERVER_ENDPOINT_ID,
                true, false, BenchCluster.DEFAULT_DENY_RULE, 0, BenchCluster.ip(BenchCluster.podAddress(SERVER_POD)), 0));
        object.map(PolicyStructs.MAP_POLICY).typed(PolicyKey.CODEC, PolicyEntry.CODEC).update(
                new PolicyKey(BenchCluster.identity(CLIENT_POD), SERVER_ENDPOINT_ID, INGRESS.value(), TCP.value(),
                        BenchCluster.SERVICE_PORT), PolicyEntry.allow(BenchCluster.ALLOW_RULE));

        out.printf("  node %s; client pod %s (%s) and server pod %s (%s) on veths %s / %s; pod_policy on both (tcx); FlowPipeline reading (this JVM)%n",
                node.name(), clientNs.name(), BenchCluster.podAddress(CLIENT_POD), serverNs.name(), BenchCluster.podAddress(SERVER_POD),
                hostVeths.get(clientNs), hostVeths.get(serverNs));
        server = new ChildJvm(cleanup, serverNs, ServerMain.class, List.of(serverNs.name(), Integer.toString(BenchCluster.SERVICE_PORT)));
        server.expect("READY", 30);
        out.println("  server: " + server.name() + " in " + serverNs.name() + ", a ByteServer on port " + BenchCluster.SERVICE_PORT);

        ring = FlowRing.of(SluiceValues.defaults().hubble());
        pipeline = new FlowPipeline(object, Aggregation.MEDIUM, ring, new FlowEnricher(BenchCluster.directory()),
                new FlowMetrics(new PrometheusRegistry()));
        cleanup.addProcessLocal("flow pipeline", pipeline);
    }

    /** A pod namespace with eth0 (its address /32, default route via the node's 169.254.1.1) and the host-side veth in the node. */
    private NetNs pod(String prefix, String address) {
        NetNs ns = NetNs.create(Names.unique(prefix));
        cleanup.add("namespace " + ns.name(), ns);
        String hostVeth = Names.unique("fbv");
        node.ip("link", "add", hostVeth, "type", "veth", "peer", "name", "eth0", "netns", ns.name());
        node.ip("addr", "add", "169.254.1.1/32", "dev", hostVeth);
        node.ip("link", "set", hostVeth, "up");
        node.ip("route", "replace", address + "/32", "dev", hostVeth, "scope", "link");
        ns.ip("addr", "add", address + "/32", "dev", "eth0");
        ns.ip("link", "set", "eth0", "up");
        ns.ip("route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
        ns.ip("route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
        int ifindex = node.ifindex(hostVeth);
        BpfLink egress = node.call(() -> object.program("policy_from_pod").attachTcx(ifindex, TcDirection.INGRESS));
        cleanup.addProcessLocal("policy_from_pod on " + hostVeth, egress::detach);
        BpfLink ingress = node.call(() -> object.program("policy_to_pod").attachTcx(ifindex, TcDirection.EGRESS));
        cleanup.addProcessLocal("policy_to_pod on " + hostVeth, ingress::detach);
        hostVeths.put(ns, hostVeth);
        return ns;
    }

    private void level(String mode) {
        object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC)
                .update(0, new FlowConfig(mode.equals(OFF) ? Aggregation.DISABLED : Aggregation.MEDIUM));
    }

    private Block block(Client client, String mode, int count) throws IOException, InterruptedException {
        level(mode);
        long before = eventsRead.getAsLong();
        Client.Result r = client.run(count);
        // The last connections' final ACKs and the reader's hand-over take well under this.
        Thread.sleep(100);
        return new Block(mode, r.histogram(), eventsRead.getAsLong() - before, r.late());
    }

    // ---- the client JVM

    /** The PacedClient JVM in the client pod. */
    private final class Client {
        private record Result(Histogram histogram, int late) {
        }

        final ChildJvm jvm;

        Client(int rate) throws IOException, InterruptedException {
            jvm = new ChildJvm(cleanup, clientNs, PacedClient.class,
                    List.of(BenchCluster.podAddress(SERVER_POD), Integer.toString(BenchCluster.SERVICE_PORT), Integer.toString(rate)));
            jvm.expect("READY", 30);
            out.println("  client: " + jvm.name() + " in " + clientNs.name() + ", to " + BenchCluster.podAddress(SERVER_POD) + ":"
                    + BenchCluster.SERVICE_PORT);
        }

        Result run(int count) throws InterruptedException {
            jvm.send("RUN " + count);
            String line = jvm.next(60 + count / 100);
            if (!line.startsWith("HISTOGRAM ")) {
                throw new IllegalStateException(jvm.name() + ": " + line);
            }
            String[] parts = line.split(" ");
            try {
                Histogram h = Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(Base64.getDecoder().decode(parts[1])), 0);
                if (h.getTotalCount() != count) {
                    throw new IllegalStateException(jvm.name() + " measured " + h.getTotalCount() + " of " + count + " requests");
                }
                return new Result(h, Integer.parseInt(parts[3]));
            } catch (java.util.zip.DataFormatException e) {
                throw new IllegalStateException("cannot decode the client's histogram", e);
            }
        }
    }

    // ---- the report

    private void report(List<Block> blocks, FlowPipeline.Lost lost) {
        Map<String, Histogram> merged = merge(blocks);
        Map<String, Long> flows = new TreeMap<>();
        for (Block b : blocks) {
            flows.merge(b.mode(), b.flows(), Long::sum);
        }
        summary(blocks, ON);
        Histogram on = merged.get(ON);
        Histogram off = merged.get(OFF);
        out.printf(Locale.ROOT, "Flows: %.2f per ON request, %.3f per OFF request; lost since start: %d in the kernel, %d in the queue%n",
                (double) flows.get(ON) / on.getTotalCount(), (double) flows.get(OFF) / off.getTotalCount(), lost.kernel(), lost.queue());
        Paired p = paired(blocks, ON);
        boolean measurable = p.mean() - p.half() > 0;
        out.printf(Locale.ROOT, "Goal \"no measurable p50 cost\": %s%n", measurable
                ? String.format(Locale.ROOT, "NOT met: ON is slower at p50 by %.1f us on average over the block pairs (%+.1f %% merged), "
                        + "and the 95 %% interval of the paired differences excludes 0", p.mean(), 100 * (us(on, 50) - us(off, 50)) / us(off, 50))
                : String.format(Locale.ROOT, "met: the p50 difference (%+.1f us, %+.1f %% merged) is within the noise (the 95 %% interval of the "
                        + "paired differences contains 0 or lies below it)", us(on, 50) - us(off, 50), 100 * (us(on, 50) - us(off, 50)) / us(off, 50)));
        List<Flow> last = ring.snapshot();
        if (!last.isEmpty()) {
            Map<String, Long> types = last.stream().collect(Collectors.groupingBy(f -> f.getEventType() + "/" + f.getTraceObservationPoint(),
                    TreeMap::new, Collectors.counting()));
            Flow f = last.getLast();
            out.printf(Locale.ROOT, "Kinds among the ring's last %d flows: %s; the last: %s %s/%s -> %s/%s TCP %d %s%n", last.size(), types,
                    f.getVerdict(), f.getSource().getNamespace(), f.getSource().getPodName(), f.getDestination().getNamespace(),
                    f.getDestination().getPodName(), f.getL4().getTCP().getDestinationPort(), f.getEventType());
        }
    }

    private static Map<String, Histogram> merge(List<Block> blocks) {
        Map<String, Histogram> merged = new TreeMap<>();
        for (Block b : blocks) {
            merged.computeIfAbsent(b.mode(), k -> new Histogram(60_000_000_000L, 3)).add(b.histogram());
        }
        return merged;
    }

    /** The merged table, the ratios to OFF and the paired differences of {@code mode} against OFF. */
    private void summary(List<Block> blocks, String mode) {
        Map<String, Histogram> merged = merge(blocks);
        Map<String, Integer> late = new TreeMap<>();
        Map<String, Long> flows = new TreeMap<>();
        for (Block b : blocks) {
            late.merge(b.mode(), b.late(), Integer::sum);
            flows.merge(b.mode(), b.flows(), Long::sum);
        }
        out.printf(Locale.ROOT, "%nNew-connection latency, %s against %s, all blocks merged, microseconds:%n%n", mode, OFF);
        out.println("| Mode | Requests | p50 | p90 | p99 | p99.9 | max | Flows received | Late starts |");
        out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (String m : List.of(mode, OFF)) {
            Histogram h = merged.get(m);
            out.printf(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d |%n", describe(m), h.getTotalCount(), us(h, 50),
                    us(h, 90), us(h, 99), us(h, 99.9), h.getMaxValue() / 1e3, flows.get(m), late.get(m));
        }
        Histogram a = merged.get(mode);
        Histogram off = merged.get(OFF);
        out.printf(Locale.ROOT, "%n%s / OFF: p50 %.3f (%+.1f us), p90 %.3f (%+.1f us), p99 %.3f (%+.1f us)%n", mode,
                ratio(a, off, 50), us(a, 50) - us(off, 50), ratio(a, off, 90), us(a, 90) - us(off, 90), ratio(a, off, 99), us(a, 99) - us(off, 99));
        Paired p = paired(blocks, mode);
        out.printf(Locale.ROOT, "Paired p50 differences %s - OFF per block pair (us): %s%n", mode,
                Arrays.stream(p.diffs()).mapToObj(d -> String.format(Locale.ROOT, "%+.1f", d)).collect(Collectors.joining(" ")));
        out.printf(Locale.ROOT, "Mean %+.2f us, 95 %% interval [%+.2f, %+.2f] us (Student's t, %d pairs); OFF blocks' p50 from %.1f to %.1f us%n",
                p.mean(), p.mean() - p.half(), p.mean() + p.half(), p.diffs().length, p.offMin(), p.offMax());
    }

    private static String describe(String mode) {
        return switch (mode) {
            case ON -> "events ON (medium)";
            case OFF -> "events OFF (disabled)";
            case ON_NO_READER -> "events ON (medium), no reader";
            case ON_RAW_READER -> "events ON (medium), bare reader";
            default -> mode;
        };
    }

    private record Paired(double[] diffs, double mean, double half, double offMin, double offMax) {
    }

    /** Each block of {@code mode} against the OFF block of the same pair, at p50. */
    private static Paired paired(List<Block> blocks, String mode) {
        List<Block> as = blocks.stream().filter(b -> b.mode().equals(mode)).toList();
        List<Block> offs = blocks.stream().filter(b -> b.mode().equals(OFF)).toList();
        int pairs = Math.min(as.size(), offs.size());
        double[] diffs = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            diffs[i] = us(as.get(i).histogram(), 50) - us(offs.get(i).histogram(), 50);
        }
        double mean = Arrays.stream(diffs).average().orElse(0);
        double sd = Math.sqrt(Arrays.stream(diffs).map(d -> (d - mean) * (d - mean)).sum() / Math.max(1, pairs - 1));
        double half = pairs > 1 ? T975[Math.min(pairs - 1, T975.length) - 1] * sd / Math.sqrt(pairs) : Double.NaN;
        double[] offP50 = offs.stream().mapToDouble(b -> us(b.histogram(), 50)).toArray();
        return new Paired(diffs, mean, half, Arrays.stream(offP50).min().orElse(0), Arrays.stream(offP50).max().orElse(0));
    }

    static double us(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1e3;
    }

    private static double ratio(Histogram a, Histogram b, double percentile) {
        return (double) a.getValueAtPercentile(percentile) / b.getValueAtPercentile(percentile);
    }
}
