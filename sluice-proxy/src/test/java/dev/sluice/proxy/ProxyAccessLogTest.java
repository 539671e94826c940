package dev.sluice.proxy;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One access record per request through the proxy, with what happened to it; the queue in front of a slow sink. */
class ProxyAccessLogTest {
    /** A client bound to this address is denied by the test's admission (as a pod policy would deny it). */
    private static final String DENIED_CLIENT = "127.0.0.2";
    private static SeedBackends backends;
    private static ProxyServer proxy;
    private static final ConcurrentLinkedQueue<AccessRecord> records = new ConcurrentLinkedQueue<>();
    private static AccessLogQueue log;

    @BeforeAll
    static void start() throws IOException {
        backends = new SeedBackends(30);
        List<ServiceRoutes> services = new ArrayList<>(backends.table.services());
        Map<String, Cluster> clusters = new HashMap<>(backends.table.clusters());
        clusters.put("test/empty", new Cluster("test/empty", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2), List.of(), true));
        services.add(new ServiceRoutes("test", "empty", 9001, "", "test", List.of(new VirtualHost("empty", List.of("empty:9001"),
                List.of(new Route("all", Route.PathKind.PREFIX, "/", true, List.of(), List.of(new WeightedCluster("test/empty", 1))))))));
        log = new AccessLogQueue(records::add, 10_000);
        proxy = ProxyServer.start(RouteTableSource.updatable(new RouteTable(services, clusters)), InetAddress.getByName("127.0.0.1"), 0,
                ProxyServer.Options.defaults(),
                (client, backend) -> client.getAddress().getHostAddress().equals(DENIED_CLIENT)
                        ? Optional.of("CiliumNetworkPolicy default/product-service-from-client does not allow it") : Optional.empty(),
                log);
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (log != null) {
            log.close();
        }
        if (backends != null) {
            backends.close();
        }
    }

    @BeforeEach
    void clear() {
        records.clear();
    }

    /** Waits until the sink has {@code n} records (they arrive on the queue's thread after the responses). */
    private static List<AccessRecord> awaitRecords(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (records.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        Thread.sleep(100); // and no more than n
        return List.copyOf(records);
    }

    @Test
    void everyGrpcCallIsOneForwardedRecordWithItsBackendAndStatus() throws Exception {
        int calls = 300;
        Instant before = Instant.now();
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "product-service:50051");
        try {
            var stub = SeedBackends.blocking(channel);
            for (int i = 0; i < calls; i++) {
                stub.ping(SeedBackends.ping(i));
            }
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        List<AccessRecord> got = awaitRecords(calls);
        assertEquals(calls, got.size());
        Set<String> pods = backends.view.pods().stream().map(p -> p.namespace() + "/" + p.name()).collect(Collectors.toSet());
        Map<String, Long> byCluster = new HashMap<>();
        for (AccessRecord r : got) {
            assertEquals(AccessRecord.Verdict.FORWARDED, r.verdict(), r.toString());
            assertEquals("HTTP/2", r.protocol());
            assertEquals("POST", r.method());
            assertEquals("http", r.scheme());
            assertEquals("product-service:50051", r.authority());
            assertEquals("/sluice.echo.v1.Echo/Ping", r.path());
            assertEquals(200, r.status());
            assertEquals(0, r.grpcStatus(), r.toString());
            assertEquals("default/product-service", r.service());
            assertEquals(50051, r.servicePort());
            assertEquals("127.0.0.1", r.client().getAddress().getHostAddress());
            assertTrue(pods.contains(r.backendPod()), r.backendPod());
            assertTrue(r.backendAddress().startsWith("127.0.3"), r.backendAddress());
            assertEquals(50051, r.backendPort());
            assertTrue(r.latencyNanos() > 0 && r.latencyNanos() < TimeUnit.SECONDS.toNanos(5), r.toString());
            assertTrue(!r.start().isBefore(before.minusMillis(5)) && !r.start().isAfter(Instant.now()), r.start().toString());
            assertEquals("", r.reason());
            byCluster.merge(r.cluster(), 1L, Long::sum);
        }
        // The record names the cluster the request was split to: both sides of the 90/10 canary appear.
        assertEquals(Set.of("default/product-service-v1", "default/product-service-v2"), byCluster.keySet(), byCluster.toString());
        assertEquals(calls, log.delivered() >= calls ? calls : -1);
        assertEquals(0, log.dropped());
    }

    @Test
    void grpcNoRouteAndNoBackendAreErrorsWithTheirGrpcStatus() throws Exception {
        ManagedChannel noRoute = SeedBackends.channel(proxy.port(), "nowhere:1");
        ManagedChannel empty = SeedBackends.channel(proxy.port(), "empty:9001");
        try {
            var e1 = assertThrows(StatusRuntimeException.class, () -> SeedBackends.blocking(noRoute).ping(SeedBackends.ping(1)));
            assertEquals(Status.Code.UNIMPLEMENTED, e1.getStatus().getCode());
            var e2 = assertThrows(StatusRuntimeException.class, () -> SeedBackends.blocking(empty).ping(SeedBackends.ping(2)));
            assertEquals(Status.Code.UNAVAILABLE, e2.getStatus().getCode());
        } finally {
            noRoute.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            empty.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        List<AccessRecord> got = awaitRecords(2);
        assertEquals(2, got.size(), got.toString());
        AccessRecord unrouted = got.stream().filter(r -> r.authority().equals("nowhere:1")).findFirst().orElseThrow();
        assertEquals(AccessRecord.Verdict.ERROR, unrouted.verdict());
        assertEquals(12, unrouted.grpcStatus());
        assertEquals(200, unrouted.status()); // gRPC: a trailers-only response, HTTP 200
        assertEquals("", unrouted.service());
        assertTrue(!unrouted.hasBackend());
        assertTrue(unrouted.reason().contains("no route"), unrouted.reason());
        AccessRecord unavailable = got.stream().filter(r -> r.authority().equals("empty:9001")).findFirst().orElseThrow();
        assertEquals(AccessRecord.Verdict.ERROR, unavailable.verdict());
        assertEquals(14, unavailable.grpcStatus());
        assertEquals("test/empty", unavailable.service());
        assertEquals("test/empty", unavailable.cluster());
        assertTrue(unavailable.reason().contains("no endpoints"), unavailable.reason());
        assertTrue(unavailable.grpcMessage().contains("no%20endpoints"), unavailable.grpcMessage());
    }

    @Test
    void http11StatusesAndAPolicyDenialAreRecorded() throws Exception {
        try (Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), proxy.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = new BufferedInputStream(socket.getInputStream());
            for (String host : List.of("product-service:50051", "nowhere:80", "empty:9001")) {
                out.write(("GET /items?x=1 HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                ProxyCanaryTest.Http1Response.read(in);
            }
        }
        try (Socket denied = new Socket()) {
            denied.bind(new InetSocketAddress(DENIED_CLIENT, 0));
            denied.connect(new InetSocketAddress("127.0.0.1", proxy.port()));
            denied.setSoTimeout(10_000);
            denied.getOutputStream().write("DELETE /items HTTP/1.1\r\nHost: product-service:50051\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals(403, ProxyCanaryTest.Http1Response.read(new BufferedInputStream(denied.getInputStream())).status());
        }
        List<AccessRecord> got = awaitRecords(4);
        assertEquals(4, got.size(), got.toString());
        Map<String, AccessRecord> byAuthority = got.stream().collect(Collectors.toMap(r -> r.method() + " " + r.authority(), r -> r));
        AccessRecord ok = byAuthority.get("GET product-service:50051");
        assertEquals(AccessRecord.Verdict.FORWARDED, ok.verdict());
        assertEquals(200, ok.status());
        assertEquals(-1, ok.grpcStatus());
        assertEquals("HTTP/1.1", ok.protocol());
        assertEquals("/items?x=1", ok.path());
        assertTrue(ok.hasBackend());
        assertEquals(404, byAuthority.get("GET nowhere:80").status());
        assertEquals(AccessRecord.Verdict.ERROR, byAuthority.get("GET nowhere:80").verdict());
        assertEquals(503, byAuthority.get("GET empty:9001").status());
        assertEquals(AccessRecord.Verdict.ERROR, byAuthority.get("GET empty:9001").verdict());
        AccessRecord denial = byAuthority.get("DELETE product-service:50051");
        assertEquals(AccessRecord.Verdict.DENIED, denial.verdict());
        assertEquals(403, denial.status());
        assertEquals(DENIED_CLIENT, denial.client().getAddress().getHostAddress());
        assertEquals("CiliumNetworkPolicy default/product-service-from-client does not allow it", denial.reason());
        assertTrue(denial.hasBackend(), "the backend it was denied for is named");
    }

    @Test
    void aClientThatGoesAwayMidRequestIsAnErrorRecord() throws Exception {
        try (Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), proxy.port())) {
            // Headers and half of the body: the proxy opens the backend's stream and waits for the rest.
            socket.getOutputStream().write(("POST /items HTTP/1.1\r\nHost: product-service:50051\r\nContent-Length: 100\r\n\r\n"
                    + "x".repeat(50)).getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            Thread.sleep(300);
        }
        List<AccessRecord> got = awaitRecords(1);
        assertEquals(1, got.size(), got.toString());
        AccessRecord r = got.getFirst();
        assertEquals(AccessRecord.Verdict.ERROR, r.verdict());
        assertEquals("POST", r.method());
        assertEquals(0, r.status(), "no response was sent");
        assertTrue(r.reason().contains("client reset"), r.reason());
        assertTrue(r.hasBackend(), "the backend it was on its way to is named");
    }

    @Test
    void aSlowSinkDropsAndCountsRecordsInsteadOfBlocking() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch entered = new CountDownLatch(1);
        List<AccessRecord> taken = new java.util.concurrent.CopyOnWriteArrayList<>();
        AccessRecord sample = new AccessRecord(Instant.now(), 1, new InetSocketAddress("127.0.0.1", 1), "", 0, "", "", 0, "",
                "HTTP/2", "GET", "http", "a", "/", 200, -1, "", AccessRecord.Verdict.FORWARDED, "");
        try (AccessLogQueue queue = new AccessLogQueue(r -> {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            taken.add(r);
        }, 10)) {
            queue.record(sample);
            assertTrue(entered.await(5, TimeUnit.SECONDS)); // the sink holds the first record
            long t0 = System.nanoTime();
            for (int i = 0; i < 49; i++) {
                queue.record(sample);
            }
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(1), "offering never waits for the sink");
            assertEquals(39, queue.dropped()); // 1 in the sink, 10 queued
            release.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (queue.delivered() < 11 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        }
        assertEquals(11, taken.size());
    }
}
