package dev.sluice.proxy;

import dev.sluice.l7.policy.Admitted;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Identity-preserving forwarding in the proxy, with real sockets (the seed's backends on loopback): a client the
 * admission forwards from its own address is carried to the backends on connections whose source is that address
 * (read back from the kernel's {@code /proc/net/tcp}), pooled apart from the node's; one forwarded the usual way
 * shares the node's. A client whose connect the agent expects the datapath to drop, which the kernel admits after
 * all (loopback has no policy), is served: the kernel decides, not the expectation.
 */
class ProxyClientSourceTest {
    private static SeedBackends backends;
    private static ProxyServer proxy;

    private static final Admission ADMISSION = new Admission() {
        @Override
        public java.util.Optional<String> deny(InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
            throw new AssertionError("the proxy asks for the whole decision");
        }

        @Override
        public Admitted decide(InetSocketAddress client, dev.sluice.l7.route.Endpoint backend) {
            return switch (client.getAddress().getHostAddress()) {
                case "127.0.0.41" -> Admitted.fromClient("allowed by CiliumNetworkPolicy default/p", "");
                case "127.0.0.42" -> Admitted.fromClient("Policy denied", "Policy denied on ingress of " + backend.pod()
                        + " (CiliumNetworkPolicy default/p)");
                default -> Admitted.ANY_REQUEST;
            };
        }
    };

    @BeforeAll
    static void start() throws IOException {
        Privileged.require(); // IP_TRANSPARENT needs CAP_NET_ADMIN
        backends = new SeedBackends(40);
        proxy = ProxyServer.start(RouteTableSource.updatable(backends.table), InetAddress.getByName("0.0.0.0"), 0,
                new ProxyServer.Options(1, Duration.ofSeconds(5)), ADMISSION);
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
    void aClientForwardedFromItsOwnAddressReachesTheBackendsFromThatAddress() throws IOException {
        long before = proxy.stats().clientSourceConnects();
        for (int i = 0; i < 40; i++) {
            assertEquals(200, get("127.0.0.41"));
        }
        // Every backend connection of this client comes from its address (to the backends' port 50051).
        List<String> fromClient = connections("127.0.0.41");
        assertTrue(!fromClient.isEmpty(), "no backend connection from 127.0.0.41: " + connections(null));
        long opened = proxy.stats().clientSourceConnects() - before;
        assertTrue(opened >= 1 && opened <= 4, "one connection per backend at most: " + opened);
        // A client forwarded from the node's address shares the node's connections: none from its address.
        for (int i = 0; i < 10; i++) {
            assertEquals(200, get("127.0.0.43"));
        }
        assertEquals(List.of(), connections("127.0.0.43"));
        assertEquals(opened, proxy.stats().clientSourceConnects() - before, "the node-source client opened no client-source connection");
    }

    @Test
    void anExpectedDropTheKernelAdmitsAfterAllIsServed() throws IOException {
        long drops = proxy.stats().datapathDrops();
        assertEquals(200, get("127.0.0.42"));
        assertEquals(drops, proxy.stats().datapathDrops());
        assertTrue(!connections("127.0.0.42").isEmpty(), connections(null).toString());
    }

    /** One HTTP/1.1 GET through the proxy from a chosen loopback address; its status. */
    private static int get(String from) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(from, 0));
            socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), 5_000);
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write("GET /x HTTP/1.1\r\nHost: product-service:50051\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = new java.io.BufferedInputStream(socket.getInputStream());
            return ProxyCanaryTest.Http1Response.read(in).status();
        }
    }

    /**
     * Established TCP connections to port 50051 (the backends) from {@code source} (any when null), as
     * {@code local -> remote}, read from the kernel ({@code /proc/net/tcp}, and {@code tcp6} for the IPv4-mapped
     * addresses of dual-stack sockets, which Netty's epoll transport opens).
     */
    private static List<String> connections(String source) throws IOException {
        List<String> out = new java.util.ArrayList<>();
        for (String file : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Files.readAllLines(Path.of(file)).stream().skip(1).map(String::trim).map(l -> l.split("\\s+"))
                    .filter(f -> f[3].equals("01") && f[2].endsWith(":C383")) // ESTABLISHED, remote port 50051
                    .map(f -> address(f[1]) + " -> " + address(f[2]))
                    .filter(c -> source == null || c.startsWith(source + ":")).forEach(out::add);
        }
        return out;
    }

    /** {@code 0100007F:1F90} (or its IPv4-mapped IPv6 form) -> {@code 127.0.0.1:8080}. */
    private static String address(String hex) {
        String[] parts = hex.split(":");
        String ip = parts[0].substring(parts[0].length() - 8); // the IPv4 address, last in an IPv4-mapped one
        long v = Long.parseLong(ip, 16);
        return (v & 0xff) + "." + (v >> 8 & 0xff) + "." + (v >> 16 & 0xff) + "." + (v >> 24 & 0xff) + ":" + Integer.parseInt(parts[1], 16);
    }
}
