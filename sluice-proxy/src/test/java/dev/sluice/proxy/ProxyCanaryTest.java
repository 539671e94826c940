package dev.sluice.proxy;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingReply;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The seed's 90/10 canary through the proxy, with the echo workload as the four pods, and gRPC streaming intact. */
class ProxyCanaryTest {
    private static SeedBackends backends;
    private static Server streamServer;
    private static ProxyServer proxy;

    @BeforeAll
    static void start() throws IOException {
        backends = new SeedBackends(10);
        streamServer = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(StreamService.definition()).build().start();
        // The seed's table, plus a Service port routed to a STATIC cluster: the streaming gRPC server.
        RouteTable seed = backends.table;
        List<ServiceRoutes> services = new ArrayList<>(seed.services());
        services.add(new ServiceRoutes("test", "stream", 9000, "", "test", List.of(new VirtualHost("stream", List.of("stream:9000"),
                List.of(new Route("all", Route.PathKind.PREFIX, "/", true, List.of(), List.of(new WeightedCluster("test/stream", 1))))))));
        Map<String, Cluster> clusters = new HashMap<>(seed.clusters());
        clusters.put("test/stream", new Cluster("test/stream", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2),
                List.of(new Endpoint("127.0.0.1", streamServer.getPort(), "")), true));
        clusters.put("test/empty", new Cluster("test/empty", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2), List.of(), true));
        services.add(new ServiceRoutes("test", "empty", 9001, "", "test", List.of(new VirtualHost("empty", List.of("empty:9001"),
                List.of(new Route("all", Route.PathKind.PREFIX, "/", true, List.of(), List.of(new WeightedCluster("test/empty", 1))))))));
        proxy = ProxyServer.start(RouteTableSource.updatable(new RouteTable(services, clusters)),
                InetAddress.getLoopbackAddress(), 0, ProxyServer.Options.defaults());
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (streamServer != null) {
            streamServer.shutdownNow();
        }
        if (backends != null) {
            backends.close();
        }
    }

    @Test
    void tenThousandUnaryCallsOnOneChannelSplitNinetyTenPerRequest() throws Exception {
        long connectionsBefore = proxy.stats().downstreamConnections();
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "product-service:50051");
        Map<String, AtomicInteger> byPod = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> byVersion = new ConcurrentHashMap<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int calls = 10_000;
        try {
            EchoGrpc.EchoFutureStub stub = EchoGrpc.newFutureStub(channel);
            Semaphore inFlight = new Semaphore(32);
            CountDownLatch done = new CountDownLatch(calls);
            for (int i = 0; i < calls; i++) {
                inFlight.acquire();
                ListenableFuture<PingReply> reply = stub.withDeadlineAfter(10, TimeUnit.SECONDS).ping(SeedBackends.ping(i));
                int call = i;
                reply.addListener(() -> {
                    try {
                        PingReply r = reply.get();
                        if (!r.getMessage().equals("call-" + call)) {
                            failure.compareAndSet(null, new AssertionError("call " + call + " got " + r.getMessage()));
                        }
                        byPod.computeIfAbsent(r.getPod(), k -> new AtomicInteger()).incrementAndGet();
                        byVersion.computeIfAbsent(r.getVersion(), k -> new AtomicInteger()).incrementAndGet();
                    } catch (Exception e) {
                        failure.compareAndSet(null, e);
                    } finally {
                        inFlight.release();
                        done.countDown();
                    }
                }, Runnable::run);
            }
            assertTrue(done.await(60, TimeUnit.SECONDS), "calls did not finish");
        } finally {
            channel.shutdownNow();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        int v1 = byVersion.getOrDefault("v1", new AtomicInteger()).get();
        int v2 = byVersion.getOrDefault("v2", new AtomicInteger()).get();
        System.out.printf("90/10 canary over one channel: v1 %d, v2 %d (%.2f %%), by pod %s; %s%n", v1, v2, 100.0 * v2 / calls, byPod, proxy.stats());
        assertEquals(calls, v1 + v2);
        assertEquals(0.10, (double) v2 / calls, 0.015, "v2's share of " + calls + " calls");
        // One client connection carried every call: the split is per request, not per connection.
        assertEquals(1, proxy.stats().downstreamConnections() - connectionsBefore);
        // Round robin within product-service-v1's three pods.
        for (int r = 0; r < 3; r++) {
            int n = byPod.getOrDefault("product-service-v1-" + r, new AtomicInteger()).get();
            assertEquals(v1 / 3.0, n, v1 * 0.01, "product-service-v1-" + r + " of " + v1);
        }
        assertEquals(v2, byPod.get("product-service-v2-0").get());
    }

    @Test
    void aServerStreamPassesTenThousandMessagesInOrderWithItsTrailers() throws Exception {
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "stream:9000");
        try {
            Iterator<byte[]> replies = ClientCalls.blockingServerStreamingCall(channel, StreamService.COUNT,
                    io.grpc.CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), ByteBuffer.allocate(4).putInt(10_000).array());
            int expected = 0;
            while (replies.hasNext()) {
                byte[] message = replies.next();
                assertEquals(expected, ByteBuffer.wrap(message).getInt(), "message " + expected + " out of order");
                assertEquals(StreamService.MESSAGE_SIZE, message.length);
                expected++;
            }
            assertEquals(10_000, expected);
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aBidiStreamEchoesEveryMessageInOrder() throws Exception {
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "stream:9000");
        try {
            List<Integer> received = new ArrayList<>();
            CountDownLatch finished = new CountDownLatch(1);
            AtomicReference<Throwable> error = new AtomicReference<>();
            StreamObserver<byte[]> requests = ClientCalls.asyncBidiStreamingCall(
                    channel.newCall(StreamService.ECHO, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS)),
                    new StreamObserver<>() {
                        public void onNext(byte[] value) { synchronized (received) { received.add(ByteBuffer.wrap(value).getInt()); } }
                        public void onError(Throwable t) { error.set(t); finished.countDown(); }
                        public void onCompleted() { finished.countDown(); }
                    });
            for (int i = 0; i < 2_000; i++) {
                requests.onNext(ByteBuffer.allocate(64).putInt(i).array());
            }
            requests.onCompleted();
            assertTrue(finished.await(60, TimeUnit.SECONDS));
            assertEquals(null, error.get());
            List<Integer> want = new ArrayList<>();
            for (int i = 0; i < 2_000; i++) {
                want.add(i);
            }
            assertEquals(want, received);
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aBackendsErrorStatusMessageAndTrailersArePassedIntact() {
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "stream:9000");
        try {
            StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class, () ->
                    ClientCalls.blockingUnaryCall(channel, StreamService.FAIL, io.grpc.CallOptions.DEFAULT, new byte[]{1}));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
            assertEquals("the backend says no: ünïcode kept", e.getStatus().getDescription());
            assertEquals("from-the-backend", e.getTrailers().get(StreamService.DETAIL));
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void noRouteAndNoEndpointAreAnsweredByTheProxyWithAClearStatus() {
        ManagedChannel nowhere = SeedBackends.channel(proxy.port(), "nobody:1");
        ManagedChannel empty = SeedBackends.channel(proxy.port(), "empty:9001");
        try {
            StatusRuntimeException noRoute = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> SeedBackends.blocking(nowhere).ping(SeedBackends.ping(0)));
            assertEquals(Status.Code.UNIMPLEMENTED, noRoute.getStatus().getCode());
            assertTrue(noRoute.getStatus().getDescription().contains("no route for authority \"nobody:1\""), noRoute.getStatus().toString());
            StatusRuntimeException noEndpoint = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> SeedBackends.blocking(empty).ping(SeedBackends.ping(0)));
            assertEquals(Status.Code.UNAVAILABLE, noEndpoint.getStatus().getCode());
            assertEquals("sluice proxy: cluster test/empty has no endpoints (no ready pod)", noEndpoint.getStatus().getDescription());
        } finally {
            nowhere.shutdownNow();
            empty.shutdownNow();
        }
    }

    @Test
    void http11RequestsOnOneKeepAliveConnectionAreSplitToo() throws IOException {
        Map<String, Integer> versions = new HashMap<>();
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), proxy.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = new BufferedInputStream(socket.getInputStream());
            for (int i = 0; i < 1_000; i++) {
                out.write("GET / HTTP/1.1\r\nHost: product-service:50051\r\nAccept: application/json\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                Http1Response response = Http1Response.read(in);
                assertEquals(200, response.status(), response.body());
                String body = response.body();
                String version = body.contains("\"version\":\"v2\"") ? "v2" : body.contains("\"version\":\"v1\"") ? "v1" : "?" + body;
                versions.merge(version, 1, Integer::sum);
            }
        }
        System.out.println("HTTP/1.1 split over one connection: " + versions);
        assertEquals(1_000, versions.getOrDefault("v1", 0) + versions.getOrDefault("v2", 0), versions.toString());
        assertEquals(100, versions.getOrDefault("v2", 0), 40, versions.toString());
    }

    /** A status line, headers and a body of known length or chunked. */
    record Http1Response(int status, Map<String, String> headers, String body) {
        static Http1Response read(InputStream in) throws IOException {
            String statusLine = line(in);
            int status = Integer.parseInt(statusLine.split(" ")[1]);
            Map<String, String> headers = new HashMap<>();
            for (String l = line(in); !l.isEmpty(); l = line(in)) {
                int colon = l.indexOf(':');
                headers.put(l.substring(0, colon).trim().toLowerCase(), l.substring(colon + 1).trim());
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            if (headers.containsKey("content-length")) {
                body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
            } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
                for (int size = Integer.parseInt(line(in).trim(), 16); size > 0; size = Integer.parseInt(line(in).trim(), 16)) {
                    body.write(in.readNBytes(size));
                    line(in);
                }
                while (!line(in).isEmpty()) {
                    // trailers
                }
            }
            return new Http1Response(status, headers, body.toString(StandardCharsets.UTF_8));
        }

        private static String line(InputStream in) throws IOException {
            StringBuilder sb = new StringBuilder();
            for (int c = in.read(); c != '\n'; c = in.read()) {
                if (c < 0) {
                    throw new IOException("connection closed after " + sb);
                }
                if (c != '\r') {
                    sb.append((char) c);
                }
            }
            return sb.toString();
        }
    }

    /** A gRPC service of raw byte messages: a server stream, a bidi echo, and a call that fails with trailers. */
    static final class StreamService {
        static final int MESSAGE_SIZE = 100;
        static final Metadata.Key<String> DETAIL = Metadata.Key.of("x-detail", Metadata.ASCII_STRING_MARSHALLER);
        static final io.grpc.MethodDescriptor.Marshaller<byte[]> BYTES = new io.grpc.MethodDescriptor.Marshaller<>() {
            public InputStream stream(byte[] value) { return new java.io.ByteArrayInputStream(value); }
            public byte[] parse(InputStream stream) {
                try { return stream.readAllBytes(); } catch (IOException e) { throw new IllegalStateException(e); }
            }
        };
        static final io.grpc.MethodDescriptor<byte[], byte[]> COUNT = method("Count", io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING);
        static final io.grpc.MethodDescriptor<byte[], byte[]> ECHO = method("Echo", io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING);
        static final io.grpc.MethodDescriptor<byte[], byte[]> FAIL = method("Fail", io.grpc.MethodDescriptor.MethodType.UNARY);

        private static io.grpc.MethodDescriptor<byte[], byte[]> method(String name, io.grpc.MethodDescriptor.MethodType type) {
            return io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder().setType(type)
                    .setFullMethodName("sluice.test.Stream/" + name).setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        }

        static ServerServiceDefinition definition() {
            return ServerServiceDefinition.builder("sluice.test.Stream")
                    .addMethod(COUNT, ServerCalls.asyncServerStreamingCall((request, out) -> {
                        int n = ByteBuffer.wrap(request).getInt();
                        for (int i = 0; i < n; i++) {
                            out.onNext(ByteBuffer.allocate(MESSAGE_SIZE).putInt(i).array());
                        }
                        out.onCompleted();
                    }))
                    .addMethod(ECHO, ServerCalls.asyncBidiStreamingCall(out -> new StreamObserver<byte[]>() {
                        public void onNext(byte[] value) { out.onNext(value); }
                        public void onError(Throwable t) { }
                        public void onCompleted() { out.onCompleted(); }
                    }))
                    .addMethod(FAIL, ServerCalls.asyncUnaryCall((request, out) -> {
                        Metadata trailers = new Metadata();
                        trailers.put(DETAIL, "from-the-backend");
                        out.onError(Status.FAILED_PRECONDITION.withDescription("the backend says no: ünïcode kept")
                                .asRuntimeException(trailers));
                    }))
                    .build();
        }
    }
}
