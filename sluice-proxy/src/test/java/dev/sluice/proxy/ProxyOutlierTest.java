package dev.sluice.proxy;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.OutlierDetection;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.l7.xds.XdsResources;
import dev.sluice.l7.xds.XdsRouteTable;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Outlier detection on consecutive 5xx (Envoy's {@code outlier_detection.consecutive_5xx}), on real sockets and
 * through the xDS resources: two gRPC backends behind round robin, one of which answers every call UNAVAILABLE
 * (503 to outlier detection). After its third failure in a row it is ejected and every later call goes to the
 * other one; exactly three calls fail. A second cluster whose every backend fails keeps one in service
 * ({@code max_ejection_percent}: at most half of two, at least one).
 */
class ProxyOutlierTest {
    private static final MethodDescriptor<byte[], byte[]> CALL = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("test.Outlier/Call")
            .setRequestMarshaller(ProxyCanaryTest.StreamService.BYTES).setResponseMarshaller(ProxyCanaryTest.StreamService.BYTES).build();
    private static Server good;
    private static Server bad;
    private static Server bad2;
    private static Server bad3;
    private static ProxyServer proxy;

    private static Server server(String name, boolean fails) throws Exception {
        ServerServiceDefinition service = ServerServiceDefinition.builder("test.Outlier")
                .addMethod(CALL, ServerCalls.asyncUnaryCall((request, out) -> {
                    if (fails) {
                        out.onError(Status.UNAVAILABLE.withDescription(name + " is failing").asRuntimeException());
                    } else {
                        out.onNext(name.getBytes(StandardCharsets.US_ASCII));
                        out.onCompleted();
                    }
                })).build();
        return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(service).build().start();
    }

    @BeforeAll
    static void start() throws Exception {
        good = server("good", false);
        bad = server("bad", true);
        bad2 = server("bad2", true);
        bad3 = server("bad3", true);
        OutlierDetection outliers = new OutlierDetection(3, Duration.ofSeconds(30), 50);
        RouteTable table = new RouteTable(List.of(new ServiceRoutes("test", "outlier", 80, "", "test",
                List.of(new VirtualHost("outlier", List.of("outlier"), List.of(
                        new Route("all-bad", Route.PathKind.PREFIX, "/", true,
                                List.of(new dev.sluice.l7.route.HeaderMatch("x-all-bad", null, true, false)), List.of(),
                                List.of(new WeightedCluster("test/all-bad", 1)), HeaderMutation.NONE, Duration.ZERO, 503, null),
                        new Route("mixed", Route.PathKind.PREFIX, "/", true, List.of(), List.of(),
                                List.of(new WeightedCluster("test/mixed", 1)), HeaderMutation.NONE, Duration.ZERO, 503, null)))))),
                Map.of("test/mixed", new Cluster("test/mixed", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2),
                                List.of(new Endpoint("127.0.0.1", good.getPort(), "good"), new Endpoint("127.0.0.1", bad.getPort(), "bad")), true, outliers),
                        "test/all-bad", new Cluster("test/all-bad", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2),
                                List.of(new Endpoint("127.0.0.1", bad2.getPort(), "bad2"), new Endpoint("127.0.0.1", bad3.getPort(), "bad3")), true, outliers)));
        // As the lab's proxy gets it: through the agent's xDS resources and back.
        RouteTable viaXds = XdsRouteTable.toProxyConfig(XdsResources.of(table, "127.0.0.1", Map.of("test/outlier:80", 15001))).table();
        assertEquals(table, viaXds);
        proxy = ProxyServer.start(RouteTableSource.updatable(viaXds), InetAddress.getLoopbackAddress(), 0,
                new ProxyServer.Options(1, Duration.ofSeconds(5)), Admission.ALL);
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        for (Server s : new Server[] {good, bad, bad2, bad3}) {
            if (s != null) {
                s.shutdownNow();
            }
        }
    }

    private static Map<String, Integer> calls(ManagedChannel channel, int n, io.grpc.Metadata headers) {
        Map<String, Integer> outcomes = new TreeMap<>();
        var ch = io.grpc.ClientInterceptors.intercept(channel, io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
        for (int i = 0; i < n; i++) {
            try {
                byte[] reply = ClientCalls.blockingUnaryCall(ch, CALL, CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS), new byte[] {1});
                outcomes.merge(new String(reply, StandardCharsets.US_ASCII), 1, Integer::sum);
            } catch (StatusRuntimeException e) {
                outcomes.merge(e.getStatus().getCode().toString(), 1, Integer::sum);
            }
        }
        return outcomes;
    }

    @Test
    void aBackendFailingThreeTimesInARowIsEjectedTheOtherTakesEveryLaterCall() {
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "outlier");
        try {
            long before = proxy.stats().outlierEjections();
            Map<String, Integer> outcomes = calls(channel, 200, new io.grpc.Metadata());
            System.out.println("[ProxyOutlierTest] 200 calls, round robin over a good and a failing backend: " + outcomes + "; " + proxy.stats());
            assertEquals(Map.of("good", 197, "UNAVAILABLE", 3), outcomes);
            assertEquals(1, proxy.stats().outlierEjections() - before);

            // Both backends failing: at most half of them (at least one) ejected; the other keeps answering.
            io.grpc.Metadata allBad = new io.grpc.Metadata();
            allBad.put(io.grpc.Metadata.Key.of("x-all-bad", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "1");
            long ejections = proxy.stats().outlierEjections();
            Map<String, Integer> failing = calls(channel, 30, allBad);
            assertEquals(Map.of("UNAVAILABLE", 30), failing);
            assertEquals(1, proxy.stats().outlierEjections() - ejections, "one of two ejected, not both: " + proxy.stats());
        } finally {
            channel.shutdownNow();
        }
    }
}
