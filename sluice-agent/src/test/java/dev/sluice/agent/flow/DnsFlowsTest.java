package dev.sluice.agent.flow;

import dev.sluice.agent.api.DnsExchange;
import dev.sluice.observe.FlowFilters;
import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.hubble.HubbleFlows;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.L7FlowType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cluster DNS server's reports as Hubble's L7 DNS flows, their summary and filters, and the feed's socket. */
class DnsFlowsTest {
    private static final Endpoint CLIENT = Endpoint.newBuilder().setNamespace("default").setPodName("client-abc").setNode("node-1")
            .setIdentity(5012).addLabels("k8s:app=client").build();
    private static final Endpoint DNS_POD = Endpoint.newBuilder().setNamespace("kube-system").setPodName("coredns-0").setNode("node-2")
            .setIdentity(102).addLabels("k8s:k8s-app=kube-dns").build();
    private static final FlowDirectory DIR = new FlowDirectory("node-1",
            Map.of(FlowDirectory.address("10.244.1.5"), CLIENT, FlowDirectory.address("10.244.2.3"), DNS_POD),
            Map.of(), Map.of(), Map.of(), Map.of(), Map.of());

    private static DnsExchange exchange(String query, int rcode, List<String> ips) {
        return new DnsExchange(1_775_824_496_789_000_000L, 250_000, "10.244.1.5", 40001, "10.244.2.3", 53, "udp", query, "A", rcode,
                ips, ips.isEmpty() ? 0 : 5, List.of(), ips.isEmpty() ? List.of() : List.of("A"));
    }

    @Test
    void aQueryAndItsAnswerNameThePodAndTheDnsPod() {
        List<Flow> flows = DnsFlows.of(exchange("product-service.default.svc.cluster.local.", 0, List.of("10.96.0.11")), DIR);
        Flow query = flows.get(0);
        Flow answer = flows.get(1);
        assertEquals(L7FlowType.REQUEST, query.getL7().getType());
        assertEquals(CLIENT, query.getSource());
        assertEquals(DNS_POD, query.getDestination());
        assertEquals(53, query.getL4().getUDP().getDestinationPort());
        assertFalse(query.getIsReply());
        assertEquals(L7FlowType.RESPONSE, answer.getL7().getType());
        assertEquals(DNS_POD, answer.getSource());
        assertEquals(CLIENT, answer.getDestination());
        assertTrue(answer.getIsReply());
        assertEquals(250_000, answer.getL7().getLatencyNs());
        assertEquals(query.getTime().getNanos() + 250_000, answer.getTime().getNanos());
        assertEquals("DNS Query product-service.default.svc.cluster.local. A", FlowFormat.summaryOf(query));
        assertEquals("DNS Answer \"10.96.0.11\" TTL: 5 (Query product-service.default.svc.cluster.local. A)", FlowFormat.summaryOf(answer));
    }

    @Test
    void nxdomainIsShownAsSuch() {
        Flow answer = DnsFlows.of(exchange("nope.default.svc.cluster.local.", 3, List.of()), DIR).get(1);
        assertEquals(3, answer.getL7().getDns().getRcode());
        assertEquals("DNS Answer RCode: NXDOMAIN TTL: 0 (Query nope.default.svc.cluster.local. A)", FlowFormat.summaryOf(answer));
    }

    @Test
    void protocolDnsSelectsDnsFlowsOnlyAndHubblesL7DnsCarriesThem() {
        List<Flow> dns = DnsFlows.of(exchange("product-service.default.svc.cluster.local.", 0, List.of("10.96.0.11")), DIR);
        var onlyDns = FlowFilters.compile(List.of(FlowFilter.newBuilder().addProtocol("dns").build()), List.of());
        var onlyHttp = FlowFilters.compile(List.of(FlowFilter.newBuilder().addProtocol("http").build()), List.of());
        assertTrue(onlyDns.test(dns.get(0)) && onlyDns.test(dns.get(1)));
        assertFalse(onlyHttp.test(dns.get(0)));
        assertFalse(onlyDns.test(Flow.newBuilder().setEventType("trace").build()));

        // Hubble's dns_query, through Hubble's FlowFilter as the relay and the UI send it.
        var byName = FlowFilters.compile(List.of(dev.sluice.observe.hubble.HubbleFilters.toSluice(
                dev.sluice.hubble.flow.FlowFilter.newBuilder().addDnsQuery("^product-service\\.").build())), List.of());
        var otherName = FlowFilters.compile(List.of(FlowFilter.newBuilder().addDnsQuery("^catalog\\.").build()), List.of());
        assertTrue(byName.test(dns.get(0)) && byName.test(dns.get(1)));
        assertFalse(otherName.test(dns.get(0)));

        var hubble = HubbleFlows.toHubble(dns.get(1));
        assertEquals(dev.sluice.hubble.flow.FlowType.L7, hubble.getType());
        assertEquals("product-service.default.svc.cluster.local.", hubble.getL7().getDns().getQuery());
        assertEquals(List.of("10.96.0.11"), hubble.getL7().getDns().getIpsList());
        assertEquals(List.of("A"), hubble.getL7().getDns().getQtypesList());
        assertEquals(5, hubble.getL7().getDns().getTtl());
        assertEquals(dns.get(1).getL7(), HubbleFlows.fromHubble(hubble).getL7());
    }

    @Test
    void theFeedSocketTakesExchangesAndSkipsBadLines(@TempDir Path dir) throws Exception {
        List<DnsExchange> got = new CopyOnWriteArrayList<>();
        Path socket = dir.resolve("dns").resolve("node-1.sock");
        try (DnsFeedServer server = DnsFeedServer.start(socket, got::add);
             SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            String lines = "{not json\n" + exchange("a.default.svc.cluster.local.", 0, List.of("10.96.0.12")).toJsonLine() + "\n"
                    + "{\"query\":\"x.\"}\n";
            ch.write(ByteBuffer.wrap(lines.getBytes(StandardCharsets.UTF_8)));
            long deadline = System.nanoTime() + 5_000_000_000L;
            while ((got.size() < 1 || server.badLines() < 2) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1, got.size());
            assertEquals("a.default.svc.cluster.local.", got.get(0).query());
            assertEquals(2, server.badLines());
            assertTrue(server.lastProblem().contains("client"), server.lastProblem());
        }
    }
}
