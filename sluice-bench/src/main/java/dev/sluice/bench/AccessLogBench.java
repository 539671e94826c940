package dev.sluice.bench;

import dev.sluice.agent.flow.FlowDirectory;
import dev.sluice.agent.flow.L7Flows;
import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.metrics.FlowMetrics;
import dev.sluice.proxy.AccessLog;
import dev.sluice.proxy.AccessLogQueue;
import dev.sluice.proxy.ProxyServer;
import dev.sluice.proxy.RouteTableSource;
import dev.sluice.workload.EchoServer;
import dev.sluice.workload.Identity;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingReply;
import dev.sluice.workload.echo.v1.PingRequest;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.HdrHistogram.Histogram;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;

/**
 * What L7 flows cost the proxy: three proxies in one JVM in front of the same echo workload, one reporting nothing,
 * one reporting every request through an {@link AccessLogQueue} to a sink that drops it (the request path's share),
 * one to the agent's sink (each record made into its two L7 flows, added to a flow ring and counted in Hubble's
 * metrics, as the agent does). Alternating rounds of the same
 * run: one call at a time (latency), then 32 calls in flight on one channel (throughput), with the bytes allocated
 * by every thread of the JVM per call, and the records the queue dropped.
 *
 * <pre>
 * $JAVA_HOME/bin/java -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.AccessLogBench [rounds] [callsPerRound]
 * </pre>
 */
public final class AccessLogBench {
    private AccessLogBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int calls = args.length > 1 ? Integer.parseInt(args[1]) : 2_000;
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        FlowRing ring = new FlowRing(4095);
        FlowMetrics metrics = new FlowMetrics(new PrometheusRegistry());
        FlowDirectory directory = FlowDirectory.empty("node-1");
        AccessLog sink = record -> L7Flows.of(record, directory).forEach(f -> {
            ring.add(f);
            metrics.record(f);
        });
        String[] names = {"no access log", "records only", "L7 flows"};
        try (EchoServer echo = EchoServer.start(new Identity("echo-0", "bench", "node-1", Map.of("version", "v1")), loopback, List.of(0));
             AccessLogQueue discard = new AccessLogQueue(record -> { }, 65_536);
             AccessLogQueue flows = new AccessLogQueue(sink, 65_536)) {
            int echoPort = echo.boundPorts().getFirst();
            RouteTable table = new RouteTable(
                    List.of(new ServiceRoutes("bench", "echo", 50051, "", "bench", List.of(new VirtualHost("echo", List.of("echo:50051"),
                            List.of(new Route("all", Route.PathKind.PREFIX, "/", true, List.of(), List.of(new WeightedCluster("bench/echo", 1)))))))),
                    Map.of("bench/echo", new Cluster("bench/echo", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(1),
                            List.of(new Endpoint("127.0.0.1", echoPort, "")), true)));
            ProxyServer.Options options = new ProxyServer.Options(1, Duration.ofSeconds(5));
            AccessLogQueue[] queues = {null, discard, flows};
            try (ProxyServer p0 = ProxyServer.start(RouteTableSource.updatable(table), loopback, 0, options);
                 ProxyServer p1 = ProxyServer.start(RouteTableSource.updatable(table), loopback, 0, options,
                         (c, b) -> java.util.Optional.empty(), discard);
                 ProxyServer p2 = ProxyServer.start(RouteTableSource.updatable(table), loopback, 0, options,
                         (c, b) -> java.util.Optional.empty(), flows)) {
                ManagedChannel[] channels = {channel(p0.port()), channel(p1.port()), channel(p2.port())};
                try {
                    PingRequest request = PingRequest.newBuilder().setMessage("bench").build();
                    int n = channels.length;
                    Histogram[] latency = new Histogram[n];
                    long[] alloc = new long[n];
                    long[] nanos = new long[n];
                    for (int v = 0; v < n; v++) {
                        latency[v] = new Histogram(10_000_000_000L, 3);
                        var stub = EchoGrpc.newBlockingStub(channels[v]);
                        for (int i = 0; i < 20_000; i++) { // warm-up: JIT of client, proxies, server and sink
                            stub.ping(request);
                        }
                        inFlight(channels[v], request, 20_000);
                    }
                    long throughputCalls = 0;
                    for (int r = 0; r < rounds; r++) {
                        for (int k = 0; k < n; k++) {
                            int v = (k + r) % n; // each variant takes each place in turn
                            var stub = EchoGrpc.newBlockingStub(channels[v]);
                            for (int i = 0; i < calls; i++) {
                                long start = System.nanoTime();
                                stub.ping(request);
                                latency[v].recordValue(System.nanoTime() - start);
                            }
                        }
                        for (int k = 0; k < n; k++) {
                            int v = (k + r) % n;
                            long before = allocated();
                            long t0 = System.nanoTime();
                            inFlight(channels[v], request, calls * 5);
                            if (queues[v] != null) {
                                while (queues[v].pending() > 0) {
                                    Thread.sleep(1); // the sink's work is part of the cost
                                }
                            }
                            nanos[v] += System.nanoTime() - t0;
                            alloc[v] += allocated() - before;
                        }
                        throughputCalls += calls * 5L;
                    }
                    System.out.printf("%d rounds: %d calls one at a time and %d with 32 in flight, for each of %d proxies (one event loop each)%n",
                            rounds, calls, calls * 5, n);
                    for (int v = 0; v < n; v++) {
                        System.out.printf("%-14s: p50 %6.1f us  p90 %6.1f us  p99 %7.1f us | %,8.0f calls/s with 32 in flight | %,6.0f bytes allocated per call (all threads)%n",
                                names[v], us(latency[v], 50), us(latency[v], 90), us(latency[v], 99), throughputCalls * 1e9 / nanos[v],
                                (double) alloc[v] / throughputCalls);
                    }
                    System.out.printf("records: %d delivered, %d dropped (records only); %d delivered, %d dropped (L7 flows); flows seen by the ring %d%n",
                            discard.delivered(), discard.dropped(), flows.delivered(), flows.dropped(), ring.counters().seenFlows());
                } finally {
                    for (ManagedChannel c : channels) {
                        c.shutdownNow();
                    }
                }
            }
        }
    }

    private static ManagedChannel channel(int port) {
        return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().overrideAuthority("echo:50051").build();
    }

    /** {@code n} calls, 32 in flight on one channel. */
    private static void inFlight(ManagedChannel channel, PingRequest request, int n) throws InterruptedException {
        var stub = EchoGrpc.newFutureStub(channel);
        Semaphore window = new Semaphore(32);
        CountDownLatch done = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            window.acquire();
            ListenableFuture<PingReply> reply = stub.ping(request);
            reply.addListener(() -> {
                window.release();
                done.countDown();
            }, Runnable::run);
        }
        done.await();
    }

    /** Bytes allocated so far by every live thread of the JVM. */
    private static long allocated() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long[] ids = threads.getAllThreadIds();
        long sum = 0;
        for (long b : threads.getThreadAllocatedBytes(ids)) {
            sum += Math.max(0, b);
        }
        return sum;
    }

    private static double us(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1_000.0;
    }
}
