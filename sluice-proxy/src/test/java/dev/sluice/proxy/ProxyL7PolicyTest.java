package dev.sluice.proxy;

import dev.sluice.l7.policy.Admitted;
import dev.sluice.l7.policy.HttpRule;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.health.v1.HealthCheckRequest;
import dev.sluice.workload.health.v1.HealthGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * L7 policy in the proxy, with real sockets: the seed's backends on loopback, clients told apart by their source
 * address (127.0.0.1 restricted by HTTP rules, 127.0.0.2 denied at L4, 127.0.0.3 unrestricted), and an admission
 * that answers as the agent does. Allowed requests reach a backend; denied ones get Cilium's answers and never do.
 */
class ProxyL7PolicyTest {
    private static final String POLICY = "CiliumNetworkPolicy default/product-l7";
    private static SeedBackends backends;
    private static ProxyServer proxy;
    private static final AtomicInteger decisions = new AtomicInteger();
    private static final ConcurrentHashMap<String, Boolean> askedFor = new ConcurrentHashMap<>();

    private static final Admission ADMISSION = new Admission() {
        @Override
        public java.util.Optional<String> deny(InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
            throw new AssertionError("the proxy asks for the whole decision");
        }

        @Override
        public Admitted decide(InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
            decisions.incrementAndGet();
            askedFor.put(backend.pod(), true);
            return switch (client.getAddress().getHostAddress()) {
                case "127.0.0.1" -> new Admitted(true, "allowed with L7 rules", List.of(
                        new HttpRule("GET", "/public.*", null, List.of(), POLICY + " spec.ingress[0].toPorts[0].rules.http[0]"),
                        new HttpRule("POST", "/sluice\\.echo\\.v1\\.Echo/Ping", null,
                                List.of(new HttpRule.Header("content-type", "application/grpc")),
                                POLICY + " spec.ingress[0].toPorts[0].rules.http[1]")));
                case "127.0.0.2" -> Admitted.denied("Policy denied on ingress of default/product-service-v1-0 (" + POLICY + ")");
                default -> Admitted.ANY_REQUEST;
            };
        }
    };

    @BeforeAll
    static void start() throws IOException {
        backends = new SeedBackends(30);
        proxy = ProxyServer.start(RouteTableSource.updatable(backends.table), InetAddress.getByName("0.0.0.0"), 0,
                new ProxyServer.Options(2, Duration.ofSeconds(5)), ADMISSION);
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (backends != null) {
            backends.close();
        }
    }

    @Test
    void anAllowedGetPassesAndAPostIsDeniedWithCiliumsAnswer() throws IOException {
        try (Http1 client = new Http1("127.0.0.1")) {
            ProxyCanaryTest.Http1Response get = client.send("GET /public/index.html HTTP/1.1\r\nHost: product-service:50051\r\nAccept: application/json\r\n\r\n");
            assertEquals(200, get.status(), get.body());
            assertTrue(get.body().contains("\"pod\":\"product-service-v"), get.body()); // a backend answered
            ProxyCanaryTest.Http1Response post = client.send("POST /public/index.html HTTP/1.1\r\nHost: product-service:50051\r\n"
                    + "Content-Length: 2\r\n\r\nhi");
            assertEquals(403, post.status());
            assertEquals("Access denied\r\n", post.body());
            ProxyCanaryTest.Http1Response elsewhere = client.send("GET /private HTTP/1.1\r\nHost: product-service:50051\r\n\r\n");
            assertEquals(403, elsewhere.status());
            // the connection goes on after a denial
            assertEquals(200, client.send("GET /public HTTP/1.1\r\nHost: product-service:50051\r\n\r\n").status());
        }
    }

    @Test
    void anAllowedGrpcMethodPassesAnotherIsPermissionDeniedNamingThePolicy() {
        ManagedChannel channel = SeedBackends.channel(proxy.port(), "product-service:50051");
        try {
            var reply = EchoGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS).ping(SeedBackends.ping(1));
            assertTrue(reply.getPod().startsWith("product-service-v"), reply.toString());
            StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> HealthGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(5, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance()));
            assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
            assertEquals("sluice proxy: access denied: POST /grpc.health.v1.Health/Check is not allowed by the HTTP rules of "
                    + POLICY, denied.getStatus().getDescription());
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void aClientDeniedAtL4GetsNothingThroughAndAnUnrestrictedOneEverything() throws IOException {
        try (Http1 denied = new Http1("127.0.0.2")) {
            ProxyCanaryTest.Http1Response get = denied.send("GET /public HTTP/1.1\r\nHost: product-service:50051\r\n\r\n");
            assertEquals(403, get.status());
            assertTrue(get.body().contains("Policy denied on ingress of default/product-service-v1-0 (" + POLICY + ")"), get.body());
        }
        try (Http1 free = new Http1("127.0.0.3")) {
            ProxyCanaryTest.Http1Response delete = free.send("DELETE /private HTTP/1.1\r\nHost: product-service:50051\r\n\r\n");
            assertEquals(200, delete.status(), delete.body());
            assertTrue(delete.body().contains("\"method\":\"DELETE\""), delete.body());
        }
    }

    /** An HTTP/1.1 keep-alive connection to the proxy from a chosen loopback address. */
    private static final class Http1 implements AutoCloseable {
        private final Socket socket = new Socket();
        private final OutputStream out;
        private final InputStream in;

        Http1(String from) throws IOException {
            socket.bind(new InetSocketAddress(from, 0));
            socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), 5_000);
            socket.setSoTimeout(10_000);
            out = socket.getOutputStream();
            in = new BufferedInputStream(socket.getInputStream());
        }

        ProxyCanaryTest.Http1Response send(String request) throws IOException {
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return ProxyCanaryTest.Http1Response.read(in);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
