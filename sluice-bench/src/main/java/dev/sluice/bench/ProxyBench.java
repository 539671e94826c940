package dev.sluice.bench;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.proxy.ProxyServer;
import dev.sluice.proxy.RouteTableSource;
import dev.sluice.workload.EchoServer;
import dev.sluice.workload.Identity;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.HdrHistogram.Histogram;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The L7 proxy's cost on a gRPC unary call: one echo workload on loopback, called directly and through the proxy
 * (one channel each, one call at a time), in alternating rounds of the same run so that both see the same noise.
 *
 * <pre>
 * $JAVA_HOME/bin/java -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.ProxyBench [rounds] [callsPerRound] [proxyThreads]
 * </pre>
 */
public final class ProxyBench {
    private ProxyBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int calls = args.length > 1 ? Integer.parseInt(args[1]) : 2_000;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        try (EchoServer echo = EchoServer.start(new Identity("echo-0", "bench", "node-1", Map.of("version", "v1")), loopback, List.of(0))) {
            int echoPort = echo.boundPorts().getFirst();
            RouteTable table = new RouteTable(
                    List.of(new ServiceRoutes("bench", "echo", 50051, "", "bench", List.of(new VirtualHost("echo", List.of("echo:50051"),
                            List.of(new Route("all", Route.PathKind.PREFIX, "/", true, List.of(), List.of(new WeightedCluster("bench/echo", 1)))))))),
                    Map.of("bench/echo", new Cluster("bench/echo", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(1),
                            List.of(new Endpoint("127.0.0.1", echoPort, "")), true)));
            try (ProxyServer proxy = ProxyServer.start(RouteTableSource.updatable(table), loopback, 0,
                    new ProxyServer.Options(threads, Duration.ofSeconds(5)))) {
                ManagedChannel direct = NettyChannelBuilder.forAddress("127.0.0.1", echoPort).usePlaintext().build();
                ManagedChannel proxied = NettyChannelBuilder.forAddress("127.0.0.1", proxy.port()).usePlaintext()
                        .overrideAuthority("echo:50051").build();
                try {
                    var directStub = EchoGrpc.newBlockingStub(direct);
                    var proxiedStub = EchoGrpc.newBlockingStub(proxied);
                    PingRequest request = PingRequest.newBuilder().setMessage("bench").build();
                    for (int i = 0; i < 20_000; i++) { // warm-up: JIT of client, proxy and server
                        directStub.ping(request);
                        proxiedStub.ping(request);
                    }
                    Histogram d = new Histogram(10_000_000_000L, 3);
                    Histogram p = new Histogram(10_000_000_000L, 3);
                    for (int r = 0; r < rounds; r++) {
                        boolean directFirst = r % 2 == 0;
                        for (int k = 0; k < 2; k++) {
                            boolean isDirect = (k == 0) == directFirst;
                            var stub = isDirect ? directStub : proxiedStub;
                            Histogram h = isDirect ? d : p;
                            for (int i = 0; i < calls; i++) {
                                long start = System.nanoTime();
                                stub.ping(request);
                                h.recordValue(System.nanoTime() - start);
                            }
                        }
                    }
                    System.out.printf("transport %s, proxy threads %d, %d rounds x %d calls each way, one call at a time%n",
                            proxy.transport(), threads, rounds, calls);
                    System.out.printf("direct : p50 %6.1f us  p90 %6.1f us  p99 %6.1f us  p99.9 %6.1f us%n",
                            us(d, 50), us(d, 90), us(d, 99), us(d, 99.9));
                    System.out.printf("proxied: p50 %6.1f us  p90 %6.1f us  p99 %6.1f us  p99.9 %6.1f us%n",
                            us(p, 50), us(p, 90), us(p, 99), us(p, 99.9));
                    System.out.printf("ratio proxied/direct: p50 %.2f  p99 %.2f; added p50 %.1f us, p99 %.1f us%n",
                            us(p, 50) / us(d, 50), us(p, 99) / us(d, 99), us(p, 50) - us(d, 50), us(p, 99) - us(d, 99));
                    System.out.println("proxy: " + proxy.stats());
                } finally {
                    direct.shutdownNow();
                    proxied.shutdownNow();
                }
            }
        }
    }

    private static double us(Histogram h, double percentile) {
        return h.getValueAtPercentile(percentile) / 1_000.0;
    }
}
