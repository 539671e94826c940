package dev.sluice.dns;

import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.agent.api.DnsExchange;
import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.ObjectRef;
import dev.sluice.model.Protocol;
import dev.sluice.model.ServicePort;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.TargetPort;
import dev.sluice.model.cluster.ClusterView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server's report of each answered query, end to end on loopback: a real query over UDP and over TCP to a
 * {@link DnsServer} with a {@link DnsFeed}, read back as JSON lines from a unix socket where a node's agent listens.
 */
class DnsFeedTest {
    private static final ClusterView VIEW = new ClusterView(
            List.of(new ClusterView.Node("node-1", "10.254.0.1", "10.244.1.0/24", "169.254.1.1")),
            List.of(new NamespaceSpec("shop", Map.of())), List.of(),
            List.of(new ServiceSpec(new ObjectRef("shop", "web"), "ClusterIP", null,
                    List.of(new ServicePort("http", 80, TargetPort.of(8080), Protocol.TCP)), Map.of("app", "web"), false, null)),
            Map.of("shop/web", "10.96.0.20"), List.of());

    @Test
    void everyAnswerReachesTheAgentOfTheClientsNode(@TempDir Path dir) throws Exception {
        ClusterLayout layout = new ClusterLayout("t", dir);
        Path socket = layout.node("node-1").dnsFeedSocket();
        Files.createDirectories(socket.getParent());
        try (ServerSocketChannel agent = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            agent.bind(UnixDomainSocketAddress.of(socket));
            // Loopback stands for the client pod; it is on node-1.
            try (DnsFeed feed = new DnsFeed(layout, ip -> ip.equals("127.0.0.1") ? "node-1" : null);
                 DnsServer server = new DnsServer(new Responder(() -> ClusterRecords.of(VIEW, "cluster.local", 1)),
                         new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), feed)) {
                server.start();
                SimpleResolver resolver = new SimpleResolver(InetAddress.getLoopbackAddress());
                resolver.setPort(server.port());
                resolver.setTimeout(Duration.ofSeconds(2));
                Message a = resolver.send(Message.newQuery(Record.newRecord(Name.fromString("web.shop.svc.cluster.local."), Type.A, 1)));
                assertEquals(Rcode.NOERROR, a.getRcode());
                resolver.setTCP(true);
                Message nx = resolver.send(Message.newQuery(Record.newRecord(Name.fromString("nope.shop.svc.cluster.local."), Type.A, 1)));
                assertEquals(Rcode.NXDOMAIN, nx.getRcode());

                try (SocketChannel ch = agent.accept();
                     BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8))) {
                    // Order between the two is the sender's queue order; find each by its name.
                    Map<String, DnsExchange> byName = new java.util.HashMap<>();
                    for (int i = 0; i < 2; i++) {
                        DnsExchange e = DnsExchange.parse(in.readLine());
                        byName.put(e.query(), e);
                    }
                    DnsExchange first = byName.get("web.shop.svc.cluster.local.");
                    assertTrue(first != null, byName + ", dropped " + feed.dropped());
                    assertEquals("web.shop.svc.cluster.local.", first.query());
                    assertEquals("A", first.qtype());
                    assertEquals(0, first.rcode());
                    assertEquals(List.of("10.96.0.20"), first.ips());
                    assertEquals(List.of("A"), first.rrtypes());
                    assertEquals(5, first.ttl());
                    assertEquals("udp", first.transport());
                    assertEquals("127.0.0.1", first.client());
                    assertEquals("127.0.0.1", first.server());
                    assertEquals(server.port(), first.serverPort());
                    assertTrue(first.latencyNanos() >= 0 && first.startNanos() > 0);

                    DnsExchange second = byName.get("nope.shop.svc.cluster.local.");
                    assertTrue(second != null, byName.toString());
                    assertEquals("nope.shop.svc.cluster.local.", second.query());
                    assertEquals(Rcode.NXDOMAIN, second.rcode());
                    assertEquals(List.of(), second.ips());
                    assertEquals("tcp", second.transport());
                }
                assertEquals(2, feed.sent());
            }
        }
    }

    @Test
    void aClientThatIsNoPodOrANodeWithoutAgentIsDroppedNotWaitedFor(@TempDir Path dir) throws Exception {
        ClusterLayout layout = new ClusterLayout("t", dir);
        try (DnsFeed feed = new DnsFeed(layout, ip -> ip.equals("127.0.0.1") ? "node-without-agent" : null);
             DnsServer server = new DnsServer(new Responder(() -> ClusterRecords.of(VIEW, "cluster.local", 1)),
                     new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), feed)) {
            server.start();
            SimpleResolver resolver = new SimpleResolver(InetAddress.getLoopbackAddress());
            resolver.setPort(server.port());
            resolver.setTimeout(Duration.ofSeconds(2));
            for (int i = 0; i < 3; i++) {
                assertEquals(Rcode.NOERROR, resolver.send(Message.newQuery(
                        Record.newRecord(Name.fromString("web.shop.svc.cluster.local."), Type.A, 1))).getRcode());
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (feed.dropped() < 3 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(3, feed.dropped());
            assertEquals(0, feed.sent());
        }
    }
}
