package dev.sluice.proxy;

import dev.sluice.workload.echo.v1.EchoGrpc;
import io.grpc.ManagedChannel;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Upstream connections that carry no stream for the idle timeout are closed, and the next request reconnects. */
class ProxyUpstreamIdleTest {
    @Test
    void idleUpstreamConnectionsAreClosedAndReopenedOnDemand() throws Exception {
        try (SeedBackends backends = new SeedBackends(20);
             ProxyServer proxy = ProxyServer.start(RouteTableSource.updatable(backends.table), InetAddress.getLoopbackAddress(), 0,
                     new ProxyServer.Options(1, Duration.ofSeconds(30), Duration.ofMillis(300)))) {
            ManagedChannel channel = SeedBackends.channel(proxy.port(), "product-service:50051");
            try {
                EchoGrpc.EchoBlockingStub stub = EchoGrpc.newBlockingStub(channel);
                for (int i = 0; i < 100; i++) {
                    stub.withDeadlineAfter(5, TimeUnit.SECONDS).ping(SeedBackends.ping(i));
                }
                long opened = proxy.stats().upstreamConnects();
                assertTrue(opened >= 2, proxy.stats().toString()); // the canary's two clusters at least
                // (A backend the canary picked rarely may have been closed idle already: that is the point.)
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (proxy.stats().upstreamIdleCloses() < proxy.stats().upstreamConnects() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                opened = proxy.stats().upstreamConnects();
                assertEquals(opened, proxy.stats().upstreamIdleCloses(), "every idle connection closes: " + proxy.stats());

                // The pool forgot them: requests open new connections and succeed.
                for (int i = 0; i < 100; i++) {
                    stub.withDeadlineAfter(5, TimeUnit.SECONDS).ping(SeedBackends.ping(i));
                }
                assertTrue(proxy.stats().upstreamConnects() > opened, proxy.stats().toString());
                assertEquals(0, proxy.stats().upstreamConnectFailures(), proxy.stats().toString());
                assertEquals(0, proxy.stats().ejections(), "an idle close is not a backend failure: " + proxy.stats());
            } finally {
                channel.shutdownNow();
            }
        }
    }
}
