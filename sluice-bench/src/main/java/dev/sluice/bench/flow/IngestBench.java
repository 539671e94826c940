package dev.sluice.bench.flow;

import dev.sluice.agent.flow.FlowDirectory;
import dev.sluice.agent.flow.FlowEnricher;
import dev.sluice.agent.flow.FlowPipeline;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.policy.PolicyStructs;
import dev.sluice.datapath.policy.PolicyStructs.DropKey;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.BpfProgram;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.TestRunResult;
import dev.sluice.model.SluiceValues;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.metrics.FlowMetrics;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.Verdict;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

/**
 * The ingest half of {@code FlowBench}: how many flow events per second the agent's real pipeline
 * ({@link FlowPipeline}: ring-buffer reader and decode, {@link FlowEnricher#enrich}, {@link FlowRing#add},
 * {@link FlowMetrics#record}) takes from a full BPF ring buffer, on the CPUs this JVM may use.
 * {@code FlowBench} starts it as its own JVM under {@code taskset -c CPU}, so that everything, the pipeline's
 * two threads, the JIT, the GC and the kernel's side of the ring buffer, shares one core.
 *
 * <p>Events: {@code policy_to_pod} of a freshly loaded, unpinned pod_policy object runs through
 * BPF_PROG_TEST_RUN on crafted Ethernet+IPv4+UDP frames from 64 pods of {@link BenchCluster} to pod 0. The
 * test run's skb is on the namespace's loopback device (ifindex 1), and {@code endpoints[1]} is pod 0
 * enforcing ingress with no allow entry, so every run drops its frame and writes one DROP event
 * (aggregation MEDIUM). The events are written while no reader runs; then a FlowPipeline starts and the
 * clock runs until every event is a flow in its FlowRing (or was counted lost). No packet is sent anywhere
 * and no namespace or interface is made.
 *
 * <ul>
 *   <li><b>Rounds</b> (the figure): a pass of N events is cut into rounds of {@value #ROUND_EVENTS} events, each
 *       written into a ring of the agent's default size (4 MiB, room for 47,662 events) and then drained by
 *       a new FlowPipeline (sharing one FlowRing, enricher and metrics, as one agent would). A round never
 *       holds more events than the pipeline's queue (65,536), so none can be lost on the way: events/s is
 *       N over the sum of the rounds' drain times (pipeline start-up included).</li>
 *   <li><b>Burst</b> (for information): N events at once in a ring of {@value #BURST_RING_BYTES} bytes, drained
 *       by one pipeline; when the reader's decoding outruns the enrichment, its queue overflows and the
 *       pipeline counts the excess as lost (Hubble's observer_events_queue).</li>
 * </ul>
 *
 * <p>Arguments: {@code [--events N] [--passes P] [--warmup W] [--burst B]} (B = 0: no burst). Prints its report
 * to stdout and exits 1 when an event went missing or a flow came out wrong.
 */
public final class IngestBench {
    static final int ROUND_RING_BYTES = FlowStructs.DEFAULT_RING_BYTES;
    static final int ROUND_EVENTS = 47_000;
    static final int BURST_RING_BYTES = 256 * 1024 * 1024;
    /** A ring record: the 80-byte event after the ring's 8-byte header. */
    private static final int RECORD_BYTES = FlowStructs.FlowEvent.SIZE + 8;
    private static final int TC_ACT_SHOT = 2;
    private static final int LOOPBACK = 1;
    private static final int SENDERS = 64;
    private static final int ENDPOINT_ID = 1;
    private static final long TIMEOUT_NS = 120_000_000_000L;

    private final PrintStream out;
    private final List<byte[]> frames = new ArrayList<>();
    private final FlowDirectory directory = BenchCluster.directory();
    private final FlowRing ring = FlowRing.of(SluiceValues.defaults().hubble());
    private final FlowMetrics metrics = new FlowMetrics(new PrometheusRegistry());
    private final FlowEnricher enricher = new FlowEnricher(directory);
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private final Set<Long> pipelineThreads = new HashSet<>();

    /** Figures added up over the rounds of a pass (or the one drain of a burst). */
    static final class Tally {
        final String label;
        int rounds;
        long events;
        long kernelNs;
        long kernelLost;
        long flows;
        long queueLost;
        long drainNs;
        long pollCpuNs;
        long dispatchCpuNs;
        long processCpuNs;
        long gcMs;
        long gcCount;
        Flow last;

        Tally(String label) {
            this.label = label;
        }

        double eventsPerSecond() {
            return flows * 1e9 / drainNs;
        }

        double perFlow(long ns) {
            return flows == 0 ? Double.NaN : (double) ns / flows;
        }
    }

    /** A loaded pod_policy object whose policy_to_pod drops every frame with an event. */
    private final class Source implements AutoCloseable {
        final BpfObject object;
        final BpfProgram program;

        Source(int ringBytes) {
            object = Programs.open(Programs.POD_POLICY).setMaxEntries(FlowStructs.MAP_EVENTS, ringBytes).load();
            try {
                program = object.program("policy_to_pod");
                BenchCluster.fillIpcache(object);
                object.map(PolicyStructs.MAP_ENDPOINTS).typed(Codecs.u32(), EndpointInfo.CODEC).update(LOOPBACK,
                        new EndpointInfo(BenchCluster.identity(0), ENDPOINT_ID, true, false, BenchCluster.DEFAULT_DENY_RULE, 0,
                                BenchCluster.ip(BenchCluster.podAddress(0)), 0));
                object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(Aggregation.MEDIUM));
            } catch (RuntimeException e) {
                object.close();
                throw e;
            }
        }

        long lost() {
            return object.map(FlowStructs.MAP_LOST).typedPerCpu(Codecs.u32(), Codecs.u64()).lookup(0).orElseThrow().stream()
                    .mapToLong(Long::longValue).sum();
        }

        long drops() {
            return object.map(PolicyStructs.MAP_DROPS).typedPerCpu(DropKey.CODEC, DropValue.CODEC).entries().values().stream()
                    .mapToLong(perCpu -> DropValue.sum(perCpu).packets()).sum();
        }

        /** Writes {@code events} DROP events (no reader runs); adds the kernel's time and losses to {@code t}. */
        void fill(int events, Tally t) {
            long lostBefore = lost();
            long dropsBefore = drops();
            int done = 0;
            for (int i = 0; i < frames.size(); i++) {
                int repeat = events / frames.size() + (i < events % frames.size() ? 1 : 0);
                if (repeat == 0) {
                    continue;
                }
                TestRunResult r = program.testRun(frames.get(i), repeat);
                if (r.retval() != TC_ACT_SHOT) {
                    throw new IllegalStateException("policy_to_pod returned " + r.retval() + " for frame " + i + ", expected TC_ACT_SHOT ("
                            + TC_ACT_SHOT + "): is endpoints[" + LOOPBACK + "] not the test run's device?");
                }
                t.kernelNs += r.totalNs();
                done += repeat;
            }
            long dropped = drops() - dropsBefore;
            if (dropped != done) {
                throw new IllegalStateException("policy_drops counted " + dropped + " drops for " + done + " runs");
            }
            t.events += done;
            t.kernelLost += lost() - lostBefore;
        }

        /** Starts a pipeline on the full ring and times it until the ring's flows reach {@code expectedSeen}. */
        void drain(long expectedSeen, Tally t) {
            long gcMsBefore = gcMillis();
            long gcCountBefore = gcCount();
            long cpuBefore = os.getProcessCpuTime();
            long queueLost = 0;
            long start = System.nanoTime();
            long end;
            try (FlowPipeline pipeline = new FlowPipeline(object, Aggregation.MEDIUM, ring, enricher, metrics)) {
                Thread poller = newThread("ringbuf-poll-" + FlowStructs.MAP_EVENTS);
                Thread dispatcher = newThread("ringbuf-dispatch-" + FlowStructs.MAP_EVENTS);
                long lastLostCheck = start;
                while (true) {
                    LockSupport.parkNanos(1_000_000);
                    long now = System.nanoTime();
                    if (now - lastLostCheck > 100_000_000L) {
                        // As the agent's loop does now and then (nothing writes events meanwhile).
                        queueLost += pipeline.collectLost().queue();
                        lastLostCheck = now;
                    }
                    if (ring.counters().seenFlows() + queueLost >= expectedSeen) {
                        end = now;
                        break;
                    }
                    if (now - start > TIMEOUT_NS) {
                        throw new IllegalStateException(t.label + ": only " + ring.counters().seenFlows() + " of " + expectedSeen
                                + " flows reached the ring in " + TIMEOUT_NS / 1_000_000_000L + " s");
                    }
                }
                t.pollCpuNs += threads.getThreadCpuTime(poller.threadId());
                t.dispatchCpuNs += threads.getThreadCpuTime(dispatcher.threadId());
                t.processCpuNs += os.getProcessCpuTime() - cpuBefore;
                queueLost += pipeline.collectLost().queue();
            }
            t.drainNs += end - start;
            t.queueLost += queueLost;
            t.gcMs += gcMillis() - gcMsBefore;
            t.gcCount += gcCount() - gcCountBefore;
            t.rounds++;
        }

        @Override
        public void close() {
            object.close();
        }
    }

    private IngestBench(PrintStream out) {
        this.out = out;
        List<Integer> senders = BenchCluster.senders(SENDERS);
        for (int i = 0; i < senders.size(); i++) {
            frames.add(Frames.udp(BenchCluster.ip(BenchCluster.podAddress(senders.get(i))), 30_000 + i,
                    BenchCluster.ip(BenchCluster.podAddress(0)), BenchCluster.SERVICE_PORT, 64));
        }
    }

    public static void main(String[] args) throws Exception {
        int events = 2_000_000;
        int passes = 3;
        int warmup = 300_000;
        int burst = 2_000_000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--events" -> events = Integer.parseInt(args[++i]);
                case "--passes" -> passes = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--burst" -> burst = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: IngestBench [--events N] [--passes P] [--warmup W] [--burst B]");
                    System.exit(2);
                }
            }
        }
        if ((long) burst * RECORD_BYTES > BURST_RING_BYTES) {
            System.err.println("IngestBench: a burst of " + burst + " events does not fit a ring of " + BURST_RING_BYTES + " bytes");
            System.exit(2);
        }
        System.exit(new IngestBench(System.out).run(events, passes, warmup, burst) ? 0 : 1);
    }

    private boolean run(int events, int passes, int warmup, int burst) throws IOException {
        out.printf(Locale.ROOT, "  ingest JVM: pid %d, availableProcessors %d, Cpus_allowed_list %s, GC %s%n", ProcessHandle.current().pid(),
                Runtime.getRuntime().availableProcessors(), status("Cpus_allowed_list"),
                ManagementFactory.getGarbageCollectorMXBeans().stream().map(GarbageCollectorMXBean::getName).collect(Collectors.joining(", ")));
        int lo = NetworkInterface.getByName("lo").getIndex();
        if (lo != LOOPBACK) {
            throw new IllegalStateException("loopback has ifindex " + lo + " in this namespace, expected " + LOOPBACK);
        }
        boolean ok = true;
        List<Tally> results = new ArrayList<>();
        try (Source source = new Source(ROUND_RING_BYTES)) {
            ok &= check(pass(source, "warm-up", warmup));
            for (int p = 1; p <= passes; p++) {
                Tally t = pass(source, "pass " + p, events);
                ok &= check(t);
                results.add(t);
            }
        }
        Tally b = null;
        if (burst > 0) {
            try (Source source = new Source(BURST_RING_BYTES)) {
                b = new Tally("burst");
                long seenBefore = ring.counters().seenFlows();
                source.fill(burst, b);
                source.drain(seenBefore + b.events - b.kernelLost, b);
                b.flows = ring.counters().seenFlows() - seenBefore;
                b.last = ring.snapshot().getLast();
                print(b);
                ok &= check(b);
            }
        }
        report(results, b);
        return ok;
    }

    private Tally pass(Source source, String label, int events) {
        Tally t = new Tally(label);
        while (t.events < events) {
            int n = (int) Math.min(ROUND_EVENTS, events - t.events);
            long seenBefore = ring.counters().seenFlows();
            source.fill(n, t);
            source.drain(seenBefore + n, t);
            t.flows += ring.counters().seenFlows() - seenBefore;
        }
        t.last = ring.snapshot().getLast();
        print(t);
        return t;
    }

    /** The pipeline thread of that name started last (an earlier pipeline's may still be ending). */
    private Thread newThread(String name) {
        Thread t = Thread.getAllStackTraces().keySet().stream()
                .filter(th -> th.getName().equals(name) && !pipelineThreads.contains(th.threadId())).findFirst()
                .orElseThrow(() -> new IllegalStateException("no new thread " + name));
        pipelineThreads.add(t.threadId());
        return t;
    }

    private static long gcMillis() {
        return ManagementFactory.getGarbageCollectorMXBeans().stream().mapToLong(GarbageCollectorMXBean::getCollectionTime).sum();
    }

    private static long gcCount() {
        return ManagementFactory.getGarbageCollectorMXBeans().stream().mapToLong(GarbageCollectorMXBean::getCollectionCount).sum();
    }

    /** Every event accounted for, and the last flow the enriched drop the frames make. */
    private boolean check(Tally t) {
        boolean ok = true;
        if (t.kernelLost != 0) {
            out.println("  PROBLEM: the kernel lost " + t.kernelLost + " events (flow_lost): the ring was too small");
            ok = false;
        }
        if (t.flows + t.queueLost + t.kernelLost != t.events) {
            out.println("  PROBLEM: " + t.flows + " flows + " + t.queueLost + " lost in the queue + " + t.kernelLost + " in the kernel for "
                    + t.events + " events");
            ok = false;
        }
        Flow f = t.last;
        boolean named = f.getVerdict() == Verdict.DROPPED && f.getDropReason() == DropReason.POLICY.value()
                && f.getDestination().getPodName().equals("pod-0") && f.getSource().getPodName().startsWith("pod-")
                && f.getSource().getIdentity() >= BenchCluster.IDENTITY_BASE && f.getPolicy().getName().equals("default-deny")
                && f.getDestinationService().getName().equals("pod-0-svc") && f.getL4().getUDP().getDestinationPort() == BenchCluster.SERVICE_PORT;
        if (!named) {
            out.println("  PROBLEM: the last flow is not the enriched drop expected: " + f.toString().replace('\n', ' '));
            ok = false;
        }
        return ok;
    }

    private void print(Tally t) {
        out.printf(Locale.ROOT, "  %-8s %,d events in %d ring fill(s): BPF %.0f ns/event; flow_lost +%d; drain %.0f ms: %,d flows = %,.0f events/s "
                        + "(%.0f ns/event); lost in the queue %d; CPU per flow: poll thread %.0f ns, dispatch thread %.0f ns, "
                        + "whole JVM %.0f ns; GC %d ms in %d collections%n",
                t.label, t.events, t.rounds, (double) t.kernelNs / t.events, t.kernelLost, t.drainNs / 1e6, t.flows, t.eventsPerSecond(),
                t.perFlow(t.drainNs), t.queueLost, t.perFlow(t.pollCpuNs), t.perFlow(t.dispatchCpuNs), t.perFlow(t.processCpuNs), t.gcMs, t.gcCount);
        Flow f = t.last;
        out.printf(Locale.ROOT, "           last flow: %s %s/%s (identity %d) -> %s/%s UDP %d, %s, policy %s, service %s/%s%n", f.getVerdict(),
                f.getSource().getNamespace(), f.getSource().getPodName(), f.getSource().getIdentity(), f.getDestination().getNamespace(),
                f.getDestination().getPodName(), f.getL4().getUDP().getDestinationPort(), f.getDropReasonDesc(), f.getPolicy().getName(),
                f.getDestinationService().getNamespace(), f.getDestinationService().getName());
    }

    private void report(List<Tally> passes, Tally burst) {
        out.printf(Locale.ROOT, "%nIngest on one core: FlowPipeline (decode + enrich + ring + metrics) draining rings of %,d DROP events, %d passes:%n%n",
                ROUND_EVENTS, passes.size());
        out.println("| Pass | Events | Rings | Drain ms | Events/s | ns/event | CPU poll ns/event | CPU dispatch ns/event | CPU JVM ns/event | GC ms | Lost | BPF ns/event | BPF events/s |");
        out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Tally t : burst == null ? passes : java.util.stream.Stream.concat(passes.stream(), java.util.stream.Stream.of(burst)).toList()) {
            out.printf(Locale.ROOT, "| %s | %,d | %d | %.0f | %,.0f | %.0f | %.0f | %.0f | %.0f | %d | %d | %.0f | %,.0f |%n", t.label, t.events,
                    t.rounds, t.drainNs / 1e6, t.eventsPerSecond(), t.perFlow(t.drainNs), t.perFlow(t.pollCpuNs), t.perFlow(t.dispatchCpuNs),
                    t.perFlow(t.processCpuNs), t.gcMs, t.queueLost + t.kernelLost, (double) t.kernelNs / t.events, t.events * 1e9 / t.kernelNs);
        }
        List<Double> rates = passes.stream().map(Tally::eventsPerSecond).sorted().toList();
        double median = rates.get(rates.size() / 2);
        long lost = passes.stream().mapToLong(t -> t.queueLost + t.kernelLost).sum();
        out.printf(Locale.ROOT, "%nGoal \"ingest > 100,000 events/s on one core\": median of the passes %,.0f events/s (lowest %,.0f); "
                + "events lost: %d: %s%n", median, rates.getFirst(), lost, median > 100_000 && lost == 0 ? "met" : "NOT met");
        if (burst != null) {
            out.printf(Locale.ROOT, "Burst of %,d events from one full %d MiB ring: %,.0f flows/s, %d events lost in the pipeline's queue (%.1f %%)%n",
                    burst.events, BURST_RING_BYTES >> 20, burst.eventsPerSecond(), burst.queueLost, 100.0 * burst.queueLost / burst.events);
        }
    }

    private static String status(String key) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith(key + ":"))
                .map(l -> l.substring(key.length() + 1).strip()).findFirst().orElse("?");
    }
}
