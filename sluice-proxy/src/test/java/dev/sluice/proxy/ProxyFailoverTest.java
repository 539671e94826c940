package dev.sluice.proxy;

import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingReply;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Backends of the seed's canary die: their requests go to the others, and a cluster left with none answers 14. */
class ProxyFailoverTest {
    @Test
    void aDeadPodIsEjectedAndADeadClusterAnswersUnavailableWithTheReason() throws Exception {
        try (SeedBackends backends = new SeedBackends(20);
             ProxyServer proxy = ProxyServer.start(RouteTableSource.updatable(backends.table), InetAddress.getLoopbackAddress(), 0,
                     new ProxyServer.Options(2, Duration.ofSeconds(30)))) {
            ManagedChannel channel = SeedBackends.channel(proxy.port(), "product-service:50051");
            try {
                EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel);
                // Warm: every pod has a pooled connection.
                for (int i = 0; i < 200; i++) {
                    stub.withDeadlineAfter(5, TimeUnit.SECONDS).ping(SeedBackends.ping(i));
                }

                backends.kill("product-service-v1-1");
                Map<String, Integer> byPod = new HashMap<>();
                for (int i = 0; i < 2_000; i++) {
                    PingReply reply = stub.withDeadlineAfter(5, TimeUnit.SECONDS).ping(SeedBackends.ping(i));
                    byPod.merge(reply.getPod(), 1, Integer::sum);
                }
                System.out.println("after killing product-service-v1-1: " + byPod + "; " + proxy.stats());
                assertFalse(byPod.containsKey("product-service-v1-1"), byPod.toString());
                assertEquals(2_000, byPod.values().stream().mapToInt(Integer::intValue).sum());
                // The dead pod's share is spread evenly over the two left.
                int v1 = byPod.get("product-service-v1-0") + byPod.get("product-service-v1-2");
                assertEquals(v1 / 2.0, byPod.get("product-service-v1-0"), v1 * 0.02, byPod.toString());
                assertTrue(proxy.stats().ejections() >= 1, proxy.stats().toString());
                // Ejected for 30 s: each event loop's pool tries the dead pod at most once, and every try was retried.
                assertTrue(proxy.stats().upstreamConnectFailures() <= 2, proxy.stats().toString());
                assertEquals(proxy.stats().upstreamConnectFailures(), proxy.stats().retries(), proxy.stats().toString());

                backends.kill("product-service-v2-0");
                int ok = 0;
                int unavailable = 0;
                for (int i = 0; i < 2_000; i++) {
                    try {
                        PingReply reply = stub.withDeadlineAfter(5, TimeUnit.SECONDS).ping(SeedBackends.ping(i));
                        assertEquals("v1", reply.getVersion());
                        ok++;
                    } catch (StatusRuntimeException e) {
                        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
                        String message = e.getStatus().getDescription();
                        assertTrue(message.startsWith("sluice proxy: ") && message.contains("cluster default/product-service-v2"), message);
                        assertTrue(message.contains("127.0.21.1:50051") || message.contains("1 ejected"), message);
                        unavailable++;
                    }
                }
                System.out.println("after killing product-service-v2-0: " + ok + " ok, " + unavailable + " UNAVAILABLE; " + proxy.stats());
                assertEquals(0.10, unavailable / 2_000.0, 0.03);
            } finally {
                channel.shutdownNow();
            }
        }
    }
}
