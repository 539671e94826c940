package dev.sluice.observe;

import dev.sluice.observe.v1.IPVersion;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FlowFiltersTest {
    private static final Flow FORWARDED = Flows.forwarded();
    private static final Flow DROPPED = Flows.dropped();
    private static final Flow REPLY = Flows.reply();
    private static final Flow HTTP = Flows.httpResponse();
    private static final Flow DNS = Flows.udpToService();
    private static final Flow PING = Flows.icmpFromWorld();
    private static final List<Flow> ALL = List.of(FORWARDED, DROPPED, REPLY, HTTP, DNS, PING);

    /** The flows of {@link #ALL} that one allow filter selects. */
    private static List<Flow> selected(FlowFilter.Builder filter) {
        Predicate<Flow> predicate = FlowFilters.compile(List.of(filter.build()), List.of());
        return ALL.stream().filter(predicate).toList();
    }

    @Test
    void sourcePodIsANamespaceAndNamePrefix() {
        assertEquals(List.of(FORWARDED, DNS), selected(FlowFilter.newBuilder().addSourcePod("default/fortio")));
        assertEquals(List.of(FORWARDED, DNS), selected(FlowFilter.newBuilder().addSourcePod("fortio")));
        assertEquals(List.of(FORWARDED, DROPPED, DNS), selected(FlowFilter.newBuilder().addSourcePod("default/fortio").addSourcePod("some-rogue")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addSourcePod("other/fortio")));
        // "ns/" alone is every pod of the namespace; the world has no pod.
        assertEquals(List.of(FORWARDED, DROPPED, REPLY, HTTP, DNS), selected(FlowFilter.newBuilder().addSourcePod("default/")));
    }

    @Test
    void destinationPodAndEitherSide() {
        assertEquals(List.of(FORWARDED, DROPPED), selected(FlowFilter.newBuilder().addDestinationPod("default/product-service-v1")));
        assertEquals(List.of(FORWARDED, DROPPED, REPLY, HTTP), selected(FlowFilter.newBuilder().addPod("default/product-service")));
    }

    @Test
    void labelSelectorsMatchEveryTermWithOrWithoutSource() {
        assertEquals(List.of(FORWARDED, DNS), selected(FlowFilter.newBuilder().addSourceLabel("app=fortio")));
        assertEquals(List.of(FORWARDED, DNS), selected(FlowFilter.newBuilder().addSourceLabel("k8s:app=fortio")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addSourceLabel("other:app=fortio")));
        assertEquals(List.of(FORWARDED, DROPPED), selected(FlowFilter.newBuilder().addDestinationLabel("app=product-service,version=v1")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addDestinationLabel("app=product-service,version=v2")));
        assertEquals(List.of(FORWARDED, DROPPED), selected(FlowFilter.newBuilder().addDestinationLabel("version")));
    }

    @Test
    void servicesAreNamespaceAndNamePrefixes() {
        assertEquals(List.of(FORWARDED, DROPPED), selected(FlowFilter.newBuilder().addDestinationService("default/product-service")));
        assertEquals(List.of(DNS), selected(FlowFilter.newBuilder().addDestinationService("kube-dns")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addDestinationService("default/kube-dns")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addSourceService("default/product-service")));
    }

    @Test
    void namespaceIsEitherSide() {
        assertEquals(List.of(FORWARDED, DROPPED, REPLY, HTTP, DNS, PING), selected(FlowFilter.newBuilder().addNamespace("default")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addNamespace("kube-system")));
    }

    @Test
    void verdictAndDropReason() {
        assertEquals(List.of(DROPPED), selected(FlowFilter.newBuilder().addVerdict(Verdict.DROPPED)));
        assertEquals(ALL, selected(FlowFilter.newBuilder().addVerdict(Verdict.DROPPED).addVerdict(Verdict.FORWARDED)));
        assertEquals(List.of(DROPPED), selected(FlowFilter.newBuilder().addDropReasonDesc("policy denied")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addDropReasonDesc("Policy denied by denylist")));
    }

    @Test
    void protocolAndPort() {
        assertEquals(List.of(FORWARDED, DROPPED, REPLY, HTTP), selected(FlowFilter.newBuilder().addProtocol("TCP")));
        assertEquals(List.of(DNS), selected(FlowFilter.newBuilder().addProtocol("udp")));
        assertEquals(List.of(PING), selected(FlowFilter.newBuilder().addProtocol("icmp")));
        assertEquals(List.of(HTTP), selected(FlowFilter.newBuilder().addProtocol("http")));
        assertEquals(List.of(FORWARDED, DROPPED, REPLY), selected(FlowFilter.newBuilder().addPort("50051")));
        assertEquals(List.of(DNS), selected(FlowFilter.newBuilder().addPort("53")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addProtocol("sctp")), "no SCTP flow among these");
        assertThrows(IllegalArgumentException.class, () -> selected(FlowFilter.newBuilder().addProtocol("quic")));
        assertThrows(IllegalArgumentException.class, () -> selected(FlowFilter.newBuilder().addPort("http")));
    }

    @Test
    void httpFields() {
        assertEquals(List.of(HTTP), selected(FlowFilter.newBuilder().addHttpStatusCode("503")));
        assertEquals(List.of(HTTP), selected(FlowFilter.newBuilder().addHttpStatusCode("5+")));
        assertEquals(List.of(HTTP), selected(FlowFilter.newBuilder().addHttpStatusCode("50+")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addHttpStatusCode("4+")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addHttpStatusCode("200")));
        assertThrows(IllegalArgumentException.class, () -> selected(FlowFilter.newBuilder().addHttpStatusCode("5xx")));
        assertEquals(List.of(HTTP), selected(FlowFilter.newBuilder().addHttpMethod("get")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addHttpMethod("POST")));
        assertEquals(List.of(HTTP), selected(FlowFilter.newBuilder().addHttpPath("^/products/[0-9]+$")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addHttpPath("^/orders")));
    }

    @Test
    void nodeNameWithGlobAndTrafficDirection() {
        assertEquals(List.of(DNS, PING), selected(FlowFilter.newBuilder().addNodeName("node-1")));
        assertEquals(ALL, selected(FlowFilter.newBuilder().addNodeName("node-*")));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addNodeName("node")));
        assertEquals(List.of(REPLY, HTTP, DNS), selected(FlowFilter.newBuilder().addTrafficDirection(TrafficDirection.EGRESS)));
    }

    @Test
    void fieldsWithinOneFilterAllMatch() {
        assertEquals(List.of(FORWARDED), selected(FlowFilter.newBuilder()
                .addSourcePod("default/fortio").addDestinationService("default/product-service").addVerdict(Verdict.FORWARDED)));
        assertEquals(List.of(), selected(FlowFilter.newBuilder().addSourcePod("default/fortio").addVerdict(Verdict.DROPPED)));
    }

    @Test
    void anyAllowMatchesAndNoDenyMatches() {
        FlowFilter toProduct = FlowFilter.newBuilder().addDestinationPod("default/product-service").build();
        FlowFilter udp = FlowFilter.newBuilder().addProtocol("udp").build();
        FlowFilter dropped = FlowFilter.newBuilder().addVerdict(Verdict.DROPPED).build();
        assertEquals(List.of(FORWARDED, DROPPED, DNS), ALL.stream().filter(FlowFilters.compile(List.of(toProduct, udp), List.of())).toList());
        assertEquals(List.of(FORWARDED, DNS), ALL.stream().filter(FlowFilters.compile(List.of(toProduct, udp), List.of(dropped))).toList());
        assertEquals(List.of(FORWARDED, REPLY, HTTP, DNS, PING), ALL.stream().filter(FlowFilters.compile(List.of(), List.of(dropped))).toList());
        assertEquals(ALL, ALL.stream().filter(FlowFilters.compile(List.of(), List.of())).toList());
        // An empty filter matches everything, so as a deny filter it leaves nothing.
        assertEquals(List.of(), ALL.stream().filter(FlowFilters.compile(List.of(), List.of(FlowFilter.getDefaultInstance()))).toList());
    }

    @Test
    void addressesArePrefixesOnTheirSide() {
        assertEquals(List.of(FORWARDED, HTTP, DNS), selected(FlowFilter.newBuilder().addSourceIp("10.0.1.5")));
        assertEquals(List.of(FORWARDED, DROPPED, HTTP, DNS), selected(FlowFilter.newBuilder().addSourceIp("10.0.1.0/24")));
        assertEquals(List.of(DNS), selected(FlowFilter.newBuilder().addDestinationIp("10.96.0.0/16")));
        assertEquals(List.of(REPLY, PING), selected(FlowFilter.newBuilder().addDestinationIp("10.0.1.5/32")));
        assertEquals(List.of(FORWARDED, REPLY, HTTP, DNS, PING), selected(FlowFilter.newBuilder().addIp("10.0.1.5")));
        assertEquals(ALL, selected(FlowFilter.newBuilder().addIp("0.0.0.0/0")));
        assertThrows(IllegalArgumentException.class, () -> FlowFilters.of(FlowFilter.newBuilder().addIp("10.0.1/24").build()));
        assertThrows(IllegalArgumentException.class, () -> FlowFilters.of(FlowFilter.newBuilder().addIp("10.0.1.0/33").build()));
    }

    @Test
    void ipv6AddressesArePrefixesTooAndNeverMatchIpv4() {
        Flow v6 = Flow.newBuilder().setVerdict(Verdict.DROPPED).setIP(IP.newBuilder().setSource("fe80::1").setDestination("fe80::c0a8:1")
                .setIpVersion(IPVersion.IPv6)).build();
        List<Flow> all = new java.util.ArrayList<>(ALL);
        all.add(v6);
        assertEquals(List.of(v6), all.stream().filter(FlowFilters.compile(List.of(FlowFilter.newBuilder().addIp("fe80::1").build()), List.of())).toList());
        assertEquals(List.of(v6), all.stream().filter(FlowFilters.compile(List.of(FlowFilter.newBuilder().addDestinationIp("fe80::/10").build()),
                List.of())).toList());
        assertEquals(List.of(), all.stream().filter(FlowFilters.compile(List.of(FlowFilter.newBuilder().addSourceIp("fe80::2").build()),
                List.of())).toList());
        assertEquals(List.of(), all.stream().filter(FlowFilters.compile(List.of(FlowFilter.newBuilder().addIp("::/0").build()), List.of()))
                .filter(f -> f != v6).toList(), "no IPv4 flow matches an IPv6 prefix");
        assertEquals(List.of(), List.of(v6).stream().filter(FlowFilters.compile(List.of(FlowFilter.newBuilder().addIp("0.0.0.0/0").build()),
                List.of())).toList(), "nor an IPv6 flow an IPv4 one");
        assertThrows(IllegalArgumentException.class, () -> FlowFilters.of(FlowFilter.newBuilder().addIp("fe80::/129").build()));
        assertThrows(IllegalArgumentException.class, () -> FlowFilters.of(FlowFilter.newBuilder().addIp("fe80:::1").build()));
    }

    @Test
    void identitiesAndEventTypes() {
        assertEquals(List.of(DROPPED), selected(FlowFilter.newBuilder().addSourceIdentity(9120)));
        assertEquals(List.of(DNS), selected(FlowFilter.newBuilder().addDestinationIdentity(4821)));
        assertEquals(List.of(PING), selected(FlowFilter.newBuilder().addIdentity(2)));
        assertEquals(List.of(DROPPED), selected(FlowFilter.newBuilder().addEventType("drop")));
        assertEquals(List.of(FORWARDED, REPLY, DNS, PING), selected(FlowFilter.newBuilder().addEventType("trace")));
        assertEquals(List.of(DROPPED, HTTP), selected(FlowFilter.newBuilder().addEventType("DROP").addEventType("l7")));
    }
}
