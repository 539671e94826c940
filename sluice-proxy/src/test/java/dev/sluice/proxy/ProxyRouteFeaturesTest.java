package dev.sluice.proxy;

import dev.sluice.l7.route.Cluster;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.l7.route.HeaderMatch;
import dev.sluice.l7.route.HeaderMutation;
import dev.sluice.l7.route.LbPolicy;
import dev.sluice.l7.route.QueryMatch;
import dev.sluice.l7.route.RetryPolicy;
import dev.sluice.l7.route.Route;
import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.xds.XdsResources;
import dev.sluice.l7.xds.XdsRouteTable;
import dev.sluice.l7.route.ServiceRoutes;
import dev.sluice.l7.route.StringMatch;
import dev.sluice.l7.route.VirtualHost;
import dev.sluice.l7.route.WeightedCluster;
import io.grpc.CallOptions;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Route features Gateway API routes need, through the proxy on real sockets: the route timeout (504 /
 * DEADLINE_EXCEEDED, the upstream stream reset), request header changes, query matches, and 500 for a route's
 * cluster that does not exist (an unresolved backendRef).
 */
class ProxyRouteFeaturesTest {
    private static final Metadata.Key<String> ENV = Metadata.Key.of("x-env", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> TRACE = Metadata.Key.of("x-trace", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> DEBUG = Metadata.Key.of("x-debug", Metadata.ASCII_STRING_MARSHALLER);
    private static final Context.Key<Metadata> HEADERS = Context.key("headers");
    private static final MethodDescriptor<byte[], byte[]> SLEEP = method("Sleep");
    private static final MethodDescriptor<byte[], byte[]> SEEN = method("Seen");
    private static final MethodDescriptor<byte[], byte[]> FLAKY = method("Flaky");
    private static final MethodDescriptor<byte[], byte[]> SLOW_ONCE = method("SlowOnce");
    /** Tries the backend saw, per request id (Flaky, SlowOnce). */
    private static final Map<String, java.util.concurrent.atomic.AtomicInteger> TRIES = new java.util.concurrent.ConcurrentHashMap<>();
    private static final CountDownLatch SLOW_CANCELLED = new CountDownLatch(1);
    private static SilentBackend resetting;

    private static Server grpc;
    private static SilentBackend silent;
    private static ProxyServer proxy;
    private static final CountDownLatch CANCELLED = new CountDownLatch(1);

    private static MethodDescriptor<byte[], byte[]> method(String name) {
        return MethodDescriptor.<byte[], byte[]>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName("test.Routes/" + name)
                .setRequestMarshaller(ProxyCanaryTest.StreamService.BYTES).setResponseMarshaller(ProxyCanaryTest.StreamService.BYTES).build();
    }

    private static List<String> all(Metadata headers, Metadata.Key<String> key) {
        Iterable<String> values = headers.getAll(key);
        List<String> list = new java.util.ArrayList<>();
        if (values != null) {
            values.forEach(list::add);
        }
        return list;
    }

    @BeforeAll
    static void start() throws Exception {
        ServerServiceDefinition service = ServerServiceDefinition.builder("test.Routes")
                // Sleeps the milliseconds the request names; notes when the proxy cancels it.
                .addMethod(SLEEP, ServerCalls.asyncUnaryCall((request, out) -> {
                    ((ServerCallStreamObserver<byte[]>) out).setOnCancelHandler(CANCELLED::countDown);
                    long ms = Long.parseLong(new String(request, StandardCharsets.US_ASCII));
                    Thread.ofVirtual().start(() -> {
                        try {
                            Thread.sleep(ms);
                            out.onNext(request);
                            out.onCompleted();
                        } catch (InterruptedException | RuntimeException e) {
                            // cancelled
                        }
                    });
                }))
                // Answers with the request headers it was sent.
                .addMethod(SEEN, ServerCalls.asyncUnaryCall((request, out) -> {
                    Metadata h = HEADERS.get();
                    String seen = "x-env=" + all(h, ENV) + " x-trace=" + all(h, TRACE) + " x-debug=" + all(h, DEBUG);
                    out.onNext(seen.getBytes(StandardCharsets.UTF_8));
                    out.onCompleted();
                }))
                // "id:n": fails with UNAVAILABLE the first n tries of request id.
                .addMethod(FLAKY, ServerCalls.asyncUnaryCall((request, out) -> {
                    String[] parts = new String(request, StandardCharsets.US_ASCII).split(":");
                    int tryNo = TRIES.computeIfAbsent(parts[0], k -> new java.util.concurrent.atomic.AtomicInteger()).incrementAndGet();
                    if (tryNo <= Integer.parseInt(parts[1])) {
                        out.onError(Status.UNAVAILABLE.withDescription("flaky, try " + tryNo).asRuntimeException());
                    } else {
                        out.onNext(("try " + tryNo).getBytes(StandardCharsets.US_ASCII));
                        out.onCompleted();
                    }
                }))
                // "id": the first try of request id never answers; the next answers at once.
                .addMethod(SLOW_ONCE, ServerCalls.asyncUnaryCall((request, out) -> {
                    String id = new String(request, StandardCharsets.US_ASCII);
                    int tryNo = TRIES.computeIfAbsent(id, k -> new java.util.concurrent.atomic.AtomicInteger()).incrementAndGet();
                    if (tryNo == 1) {
                        ((ServerCallStreamObserver<byte[]>) out).setOnCancelHandler(SLOW_CANCELLED::countDown);
                        return;
                    }
                    out.onNext(("try " + tryNo).getBytes(StandardCharsets.US_ASCII));
                    out.onCompleted();
                }))
                .build();
        grpc = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(service, new io.grpc.ServerInterceptor() {
                    @Override
                    public <Q, A> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, A> call, Metadata headers,
                                                                            io.grpc.ServerCallHandler<Q, A> next) {
                        return Contexts.interceptCall(Context.current().withValue(HEADERS, headers), call, headers, next);
                    }
                })).build().start();
        silent = new SilentBackend(false);
        resetting = new SilentBackend(true);
        HeaderMatch noRetry = new HeaderMatch("x-no-retry", null, true, false);
        RetryPolicy onUnavailable = new RetryPolicy(java.util.Set.of("unavailable"), 2, Duration.ZERO, java.util.Set.of());
        RetryPolicy onReset = new RetryPolicy(java.util.Set.of("reset"), 1, Duration.ofMillis(500), java.util.Set.of());

        // Long enough for a cold JVM on a busy machine to open the upstream stream; the calls that must time out
        // are held far longer.
        Duration timeout = Duration.ofMillis(1_000);
        HeaderMutation mutation = new HeaderMutation(List.of(Map.entry("X-Env", "canary")), List.of(Map.entry("x-trace", "1")),
                List.of("x-debug"));
        List<Route> routes = List.of(
                new Route("sleep", Route.PathKind.PATH, "/test.Routes/Sleep", true, List.of(), List.of(),
                        List.of(new WeightedCluster("test/grpc", 1)), HeaderMutation.NONE, timeout, 503, null),
                new Route("seen", Route.PathKind.PATH, "/test.Routes/Seen", true, List.of(), List.of(),
                        List.of(new WeightedCluster("test/grpc", 1)), mutation, Duration.ZERO, 503, null),
                new Route("silent", Route.PathKind.SEPARATED_PREFIX, "/silent", true, List.of(), List.of(),
                        List.of(new WeightedCluster("test/silent", 1)), HeaderMutation.NONE, timeout, 503, null),
                new Route("flaky-no-retry", Route.PathKind.PATH, "/test.Routes/Flaky", true, List.of(noRetry), List.of(),
                        List.of(new WeightedCluster("test/grpc", 1)), HeaderMutation.NONE, Duration.ZERO, 503, null),
                new Route("flaky", Route.PathKind.PATH, "/test.Routes/Flaky", true, List.of(), List.of(),
                        List.of(new WeightedCluster("test/grpc", 1)), HeaderMutation.NONE, Duration.ZERO, 503, onUnavailable),
                new Route("slow-once", Route.PathKind.PATH, "/test.Routes/SlowOnce", true, List.of(), List.of(),
                        List.of(new WeightedCluster("test/grpc", 1)), HeaderMutation.NONE, Duration.ofSeconds(5), 503, onReset),
                new Route("mixed-no-retry", Route.PathKind.PREFIX, "/mixed", true, List.of(noRetry), List.of(),
                        List.of(new WeightedCluster("test/mixed", 1)), HeaderMutation.NONE, Duration.ZERO, 503, null),
                new Route("mixed", Route.PathKind.PREFIX, "/mixed", true, List.of(), List.of(),
                        List.of(new WeightedCluster("test/mixed", 1)), HeaderMutation.NONE, Duration.ZERO, 503, onReset),
                new Route("query", Route.PathKind.PATH, "/q", true,
                        List.of(new HeaderMatch(":method", new StringMatch(StringMatch.Kind.EXACT, "GET", false), true, false)),
                        List.of(new QueryMatch("version", new StringMatch(StringMatch.Kind.EXACT, "2", false))),
                        List.of(new WeightedCluster("test/missing", 1)), HeaderMutation.NONE, Duration.ZERO, 500, null));
        RouteTable table = new RouteTable(List.of(new ServiceRoutes("test", "routes", 80, "", "test",
                List.of(new VirtualHost("routes", List.of("routes"), routes)))),
                Map.of("test/grpc", new Cluster("test/grpc", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2),
                                List.of(new Endpoint("127.0.0.1", grpc.getPort(), "")), true),
                        "test/silent", new Cluster("test/silent", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2),
                                List.of(new Endpoint("127.0.0.1", silent.port(), "")), true),
                        // A backend that resets every stream, and the gRPC server behind the same route.
                        "test/mixed", new Cluster("test/mixed", LbPolicy.ROUND_ROBIN, Duration.ofSeconds(2),
                                List.of(new Endpoint("127.0.0.1", resetting.port(), ""), new Endpoint("127.0.0.1", grpc.getPort(), "")), true)));
        // The proxy runs the table as the lab's proxy gets it: through the agent's xDS resources and back.
        RouteTable viaXds = XdsRouteTable.toProxyConfig(XdsResources.of(table, "127.0.0.1", Map.of("test/routes:80", 15001))).table();
        assertEquals(table, viaXds);
        proxy = ProxyServer.start(RouteTableSource.updatable(viaXds), InetAddress.getLoopbackAddress(), 0, ProxyServer.Options.defaults());
    }

    @AfterAll
    static void stop() throws IOException {
        if (proxy != null) {
            proxy.close();
        }
        if (grpc != null) {
            grpc.shutdownNow();
        }
        if (silent != null) {
            silent.close();
        }
        if (resetting != null) {
            resetting.close();
        }
    }

    private static byte[] call(ManagedChannel channel, MethodDescriptor<byte[], byte[]> method, String body) {
        return ClientCalls.blockingUnaryCall(channel, method, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
                body.getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void aGrpcCallThatOutlivesTheRouteTimeoutGetsDeadlineExceededAndTheBackendSeesItCancelled() throws Exception {
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "routes");
        try {
            assertEquals("50", new String(call(channel, SLEEP, "50"), StandardCharsets.US_ASCII));
            long timeoutsBefore = proxy.stats().timeouts();
            long start = System.nanoTime();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(channel, SLEEP, "5000"));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode(), e.toString());
            assertTrue(e.getStatus().getDescription().contains("upstream request timeout"), e.toString());
            assertTrue(ms >= 990 && ms < 3_000, "answered after " + ms + " ms (route timeout 1,000 ms)");
            assertTrue(CANCELLED.await(5, TimeUnit.SECONDS), "the backend's call was not cancelled");
            assertEquals(1, proxy.stats().timeouts() - timeoutsBefore);
            // The connection stays usable.
            assertEquals("10", new String(call(channel, SLEEP, "10"), StandardCharsets.US_ASCII));
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void anHttpRequestThatOutlivesTheRouteTimeoutGets504AndTheUpstreamStreamIsReset() throws Exception {
        long start = System.nanoTime();
        Http1 response = Http1.get(proxy.port(), "/silent/x");
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(504, response.status(), response.toString());
        assertTrue(response.body().contains("upstream request timeout"), response.body());
        assertTrue(ms >= 990 && ms < 3_000, "answered after " + ms + " ms (route timeout 1,000 ms)");
        assertTrue(silent.resets.await(5, TimeUnit.SECONDS), "the silent backend never got RST_STREAM");
    }

    @Test
    void requestHeadersAreSetAddedAndRemovedOnTheWay() throws Exception {
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "routes");
        try {
            Metadata sent = new Metadata();
            sent.put(ENV, "prod");
            sent.put(TRACE, "0");
            sent.put(DEBUG, "yes");
            var ch = io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(sent));
            byte[] seen = ClientCalls.blockingUnaryCall(ch, SEEN, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[]{1});
            assertEquals("x-env=[canary] x-trace=[0, 1] x-debug=[]", new String(seen, StandardCharsets.UTF_8));
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aQueryMatchSelectsTheRouteAndAMissingClusterIsAnswered500() throws Exception {
        Http1 matched = Http1.get(proxy.port(), "/q?a=1&version=2");
        assertEquals(500, matched.status(), matched.toString());
        assertTrue(matched.body().contains("test/missing"), matched.body());
        assertEquals(404, Http1.get(proxy.port(), "/q?version=3").status());
        assertEquals(404, Http1.get(proxy.port(), "/q").status());
    }

    private static ManagedChannel routes() {
        return SeedBackends.channel(proxy.port(), "routes");
    }

    private static String flaky(io.grpc.Channel channel, String body) {
        return new String(ClientCalls.blockingUnaryCall(channel, FLAKY, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
                body.getBytes(StandardCharsets.US_ASCII)), StandardCharsets.US_ASCII);
    }

    private static io.grpc.Channel noRetry(ManagedChannel channel) {
        Metadata h = new Metadata();
        h.put(Metadata.Key.of("x-no-retry", Metadata.ASCII_STRING_MARSHALLER), "1");
        return io.grpc.ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(h));
    }

    @Test
    void aRetryPolicyRetriesUnavailableUpToNumRetriesAndOnlyWhileTheBodyIsHeld() throws Exception {
        ManagedChannel channel = routes();
        try {
            long retriesBefore = proxy.stats().retries();
            // Two failures, two retries allowed: the third try answers.
            assertEquals("try 3", flaky(channel, "a:2"));
            assertEquals(3, TRIES.get("a").get());
            // Three failures: the client gets the backend's third UNAVAILABLE, after three tries.
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> flaky(channel, "b:3"));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertEquals("flaky, try 3", e.getStatus().getDescription());
            assertEquals(3, TRIES.get("b").get());
            assertEquals(4, proxy.stats().retries() - retriesBefore);
            // A route without a retry policy: one try.
            assertThrows(StatusRuntimeException.class, () -> flaky(noRetry(channel), "c:1"));
            assertEquals(1, TRIES.get("c").get());
            // A body over the limit the proxy holds is not retried.
            String big = "d:1:" + "x".repeat(RetryPolicy.BUFFER_LIMIT + 1);
            assertThrows(StatusRuntimeException.class, () -> flaky(channel, big));
            assertEquals(1, TRIES.get("d").get());
            // Just under it is.
            String held = "e:1:" + "x".repeat(RetryPolicy.BUFFER_LIMIT - 100);
            assertEquals("try 2", flaky(channel, held));
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aTryThatOutlivesThePerTryTimeoutIsCancelledAndRetried() throws Exception {
        ManagedChannel channel = routes();
        try {
            long start = System.nanoTime();
            byte[] reply = ClientCalls.blockingUnaryCall(channel, SLOW_ONCE, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
                    "slow".getBytes(StandardCharsets.US_ASCII));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals("try 2", new String(reply, StandardCharsets.US_ASCII));
            assertTrue(ms >= 490 && ms < 3_000, "answered after " + ms + " ms (per-try timeout 500 ms)");
            assertTrue(SLOW_CANCELLED.await(5, TimeUnit.SECONDS), "the first try was not cancelled");
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aStreamResetByOneBackendIsRetriedOnAnother() throws Exception {
        MethodDescriptor<byte[], byte[]> mixed = MethodDescriptor.<byte[], byte[]>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName("mixed/Seen")
                .setRequestMarshaller(ProxyCanaryTest.StreamService.BYTES).setResponseMarshaller(ProxyCanaryTest.StreamService.BYTES).build();
        ManagedChannel channel = routes();
        try {
            int failedWithout = 0;
            for (int i = 0; i < 20; i++) {
                try {
                    ClientCalls.blockingUnaryCall(noRetry(channel), mixed, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[]{1});
                } catch (StatusRuntimeException e) {
                    failedWithout++;
                }
            }
            // Round robin: every other call meets the resetting backend; the gRPC server answers UNIMPLEMENTED
            // for this method, so every call fails one way or the other without retries: count the resets.
            long resetsSeen = resetting.streams.get();
            assertTrue(resetsSeen >= 5, "the resetting backend saw " + resetsSeen + " streams");
            int unimplemented = 0;
            for (int i = 0; i < 20; i++) {
                try {
                    ClientCalls.blockingUnaryCall(channel, mixed, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), new byte[]{1});
                } catch (StatusRuntimeException e) {
                    // With the retry, a reset never reaches the client: every call ends at the gRPC server.
                    assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), e.toString());
                    unimplemented++;
                }
            }
            assertEquals(20, unimplemented);
            assertEquals(20, failedWithout);
        } finally {
            channel.shutdownNow();
        }
    }

    /** One HTTP/1.1 request on its own connection, read to the end (the proxy's local replies have a length). */
    record Http1(int status, String body) {
        static Http1 get(int port, String path) throws IOException {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: routes\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                String text = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                int status = Integer.parseInt(text.substring(9, 12));
                int body = text.indexOf("\r\n\r\n");
                return new Http1(status, body < 0 ? "" : text.substring(body + 4));
            }
        }
    }

    /**
     * An HTTP/2 backend that settles the connection and then never answers: it reads frames and counts the
     * RST_STREAMs it receives.
     */
    static final class SilentBackend implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        final CountDownLatch resets = new CountDownLatch(1);
        /** Streams opened (HEADERS received). */
        final java.util.concurrent.atomic.AtomicLong streams = new java.util.concurrent.atomic.AtomicLong();
        private final boolean resetEveryStream;

        /** @param resetEveryStream answer every request with RST_STREAM (INTERNAL_ERROR) instead of nothing */
        SilentBackend(boolean resetEveryStream) throws IOException {
            this.resetEveryStream = resetEveryStream;
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        Thread.ofVirtual().start(() -> serve(s));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        private void serve(Socket s) {
            try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                DataInputStream data = new DataInputStream(in);
                data.readFully(new byte[24]); // the client preface
                out.write(new byte[]{0, 0, 0, 4, 0, 0, 0, 0, 0}); // SETTINGS, empty
                out.flush();
                byte[] header = new byte[9];
                while (true) {
                    data.readFully(header);
                    int length = ByteBuffer.wrap(new byte[]{0, header[0], header[1], header[2]}).getInt();
                    int type = header[3];
                    int flags = header[4];
                    data.readFully(new byte[length]);
                    if (type == 4 && (flags & 1) == 0) {
                        out.write(new byte[]{0, 0, 0, 4, 1, 0, 0, 0, 0}); // SETTINGS ACK
                        out.flush();
                    } else if (type == 3) {
                        resets.countDown();
                    } else if (type == 1) {
                        streams.incrementAndGet();
                        if (resetEveryStream) {
                            out.write(new byte[]{0, 0, 4, 3, 0, header[5], header[6], header[7], header[8], 0, 0, 0, 2});
                            out.flush();
                        }
                    }
                }
            } catch (IOException e) {
                // the proxy closed the connection
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
