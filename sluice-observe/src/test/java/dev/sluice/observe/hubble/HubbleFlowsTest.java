package dev.sluice.observe.hubble;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.sluice.hubble.flow.FlowType;
import dev.sluice.observe.Flows;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.HTTPHeader;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.IPVersion;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.observe.v1.Layer4;
import dev.sluice.observe.v1.Layer7;
import dev.sluice.observe.v1.SCTP;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import dev.sluice.observe.v1.Workload;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HubbleFlowsTest {

    /** Every field Sluice's agent and proxy fill, each set at least once across these flows. */
    static List<Flow> everyKind() {
        Endpoint withWorkload = Flows.client().toBuilder()
                .addWorkloads(Workload.newBuilder().setName("fortio-client").setKind("Deployment")).build();
        Flow l7Request = Flow.newBuilder().setTime(Flows.at(Flows.T0.plusMillis(9))).setVerdict(Verdict.DROPPED)
                .setDropReason(133).setDropReasonDesc("Policy denied")
                .setSource(withWorkload).setDestination(Flows.product())
                .setIP(IP.newBuilder().setSource("10.0.1.5").setDestination("10.0.2.9").setIpVersion(IPVersion.IPv4))
                .setL4(Flows.tcp(41300, 8080, dev.sluice.observe.v1.TCPFlags.getDefaultInstance()))
                .setL7(Layer7.newBuilder().setType(L7FlowType.REQUEST).setHttp(HTTP.newBuilder().setMethod("POST")
                        .setUrl("http://product-service:8080/p").setProtocol("HTTP/2")
                        .addHeaders(HTTPHeader.newBuilder().setKey("x-sluice-reason").setValue("denied by default/p"))))
                .setDestinationService(Service.newBuilder().setNamespace("default").setName("product-service"))
                .setTrafficDirection(TrafficDirection.EGRESS).setIsReply(false).setNodeName("node-1").setEventType("l7")
                .build();
        Flow sockXlate = Flows.forwarded().toBuilder().clearPolicy().setVerdict(Verdict.TRANSLATED)
                .setEventType("trace-sock").setTraceObservationPoint("post-xlate-fwd").build();
        Flow bypass = Flows.forwarded().toBuilder().setEventType("trace").setTraceObservationPoint("sock-bypass").build();
        Flow ipv6Drop = Flow.newBuilder().setTime(Flows.at(Flows.T0)).setVerdict(Verdict.DROPPED).setDropReason(139)
                .setDropReasonDesc("Unsupported L3 protocol").setSource(Endpoint.newBuilder().setIdentity(5012))
                .setDestination(Endpoint.newBuilder().setIdentity(2))
                .setIP(IP.newBuilder().setSource("fe80::1").setDestination("ff02::fb").setIpVersion(IPVersion.IPv6))
                .setL4(Layer4.newBuilder().setSCTP(SCTP.newBuilder().setSourcePort(5353).setDestinationPort(5353)))
                .setNodeName("node-2").setEventType("drop").build();
        Flow prefilter = ipv6Drop.toBuilder().setDropReason(240).setDropReasonDesc("Prefilter: blocked CIDR")
                .setIP(IP.newBuilder().setSource("192.0.2.7").setDestination("10.0.2.9").setIpVersion(IPVersion.IPv4)).build();
        Flow unknownPoint = Flows.reply().toBuilder().setEventType("conn-end").setTraceObservationPoint("somewhere").build();
        return List.of(Flows.forwarded(), Flows.dropped(), Flows.reply(), Flows.httpResponse(), Flows.udpToService(),
                Flows.icmpFromWorld(), l7Request, sockXlate, bypass, ipv6Drop, prefilter, unknownPoint);
    }

    @Test
    void everyFieldSluiceFillsSurvivesTheWire() throws Exception {
        for (Flow flow : everyKind()) {
            byte[] wire = HubbleFlows.toHubble(flow).toByteArray();
            Flow back = HubbleFlows.fromHubble(dev.sluice.hubble.flow.Flow.parseFrom(wire));
            assertEquals(flow, back, "round trip of " + flow);
        }
    }

    /** Hubble's published field numbers, read from the bytes without Sluice's generated classes. */
    @Test
    void theBytesCarryHubblesFieldNumbers() throws Exception {
        UnknownFieldSet wire = UnknownFieldSet.parseFrom(HubbleFlows.toHubble(Flows.dropped()).toByteArray());
        assertEquals(List.of(2L), wire.getField(2).getVarintList(), "verdict = 2, DROPPED = 2");
        assertEquals(List.of(133L), wire.getField(3).getVarintList(), "drop_reason = 3");
        assertEquals(List.of(133L), wire.getField(25).getVarintList(), "drop_reason_desc = 25, POLICY_DENIED = 133");
        assertEquals(List.of(1L), wire.getField(22).getVarintList(), "traffic_direction = 22, INGRESS = 1");
        assertEquals(List.of(ByteString.copyFromUtf8("node-2")), wire.getField(11).getLengthDelimitedList(), "node_name = 11");
        UnknownFieldSet source = UnknownFieldSet.parseFrom(wire.getField(8).getLengthDelimitedList().getFirst());
        assertEquals(List.of(9120L), source.getField(2).getVarintList(), "Endpoint.identity = 2");
        assertEquals(List.of(ByteString.copyFromUtf8("default")), source.getField(3).getLengthDelimitedList(), "Endpoint.namespace = 3");
        assertEquals(List.of(ByteString.copyFromUtf8("some-rogue-pod-zzzzz")), source.getField(5).getLengthDelimitedList(),
                "Endpoint.pod_name = 5");
        UnknownFieldSet ip = UnknownFieldSet.parseFrom(wire.getField(5).getLengthDelimitedList().getFirst());
        assertEquals(List.of(ByteString.copyFromUtf8("10.0.1.7")), ip.getField(1).getLengthDelimitedList(), "IP = 5, source = 1");
        UnknownFieldSet l4 = UnknownFieldSet.parseFrom(wire.getField(6).getLengthDelimitedList().getFirst());
        UnknownFieldSet tcp = UnknownFieldSet.parseFrom(l4.getField(1).getLengthDelimitedList().getFirst());
        assertEquals(List.of(50051L), tcp.getField(2).getVarintList(), "l4 = 6, TCP = 1, destination_port = 2");
        UnknownFieldSet flags = UnknownFieldSet.parseFrom(tcp.getField(3).getLengthDelimitedList().getFirst());
        assertEquals(List.of(1L), flags.getField(2).getVarintList(), "TCPFlags.SYN = 2");
        UnknownFieldSet eventType = UnknownFieldSet.parseFrom(wire.getField(19).getLengthDelimitedList().getFirst());
        assertEquals(List.of(1L), eventType.getField(1).getVarintList(), "event_type = 19, drop = 1");
        UnknownFieldSet denied = UnknownFieldSet.parseFrom(wire.getField(21005).getLengthDelimitedList().getFirst());
        assertEquals(List.of(ByteString.copyFromUtf8("product-service-allow-fortio")), denied.getField(1).getLengthDelimitedList(),
                "ingress_denied_by = 21005, Policy.name = 1");
        assertEquals(List.of(ByteString.copyFromUtf8("CiliumNetworkPolicy")), denied.getField(5).getLengthDelimitedList(), "Policy.kind = 5");
        assertEquals(List.of(1L), wire.getField(10).getVarintList(), "Type = 10, L3_L4 = 1");
        assertTrue(wire.hasField(34), "uuid = 34");
        assertTrue(wire.hasField(400000), "Sluice's extension (the rule) in field 400000");
        assertFalse(wire.hasField(150000), "Hubble's extensions Any left empty");
        assertFalse(wire.hasField(26), "is_reply = 26 absent when the datapath cannot tell");
    }

    @Test
    void replyAndL7() throws Exception {
        var h = HubbleFlows.toHubble(Flows.httpResponse());
        assertTrue(h.getIsReply().getValue());
        assertEquals(FlowType.L7, h.getType());
        assertEquals(503, h.getL7().getHttp().getCode());
        UnknownFieldSet wire = UnknownFieldSet.parseFrom(h.toByteArray());
        UnknownFieldSet l7 = UnknownFieldSet.parseFrom(wire.getField(15).getLengthDelimitedList().getFirst());
        assertTrue(l7.hasField(101), "l7 = 15, http = 101");
        assertEquals(List.of(4_000_000L), l7.getField(2).getVarintList(), "latency_ns = 2");
        UnknownFieldSet isReply = UnknownFieldSet.parseFrom(wire.getField(26).getLengthDelimitedList().getFirst());
        assertEquals(List.of(1L), isReply.getField(1).getVarintList(), "is_reply = 26 as BoolValue true");
    }

    @Test
    void theSameFlowHasTheSameUuidAtEveryRead() {
        assertEquals(HubbleFlows.toHubble(Flows.dropped()).getUuid(), HubbleFlows.toHubble(Flows.dropped()).getUuid());
        assertFalse(HubbleFlows.toHubble(Flows.dropped()).getUuid().equals(HubbleFlows.toHubble(Flows.forwarded()).getUuid()));
    }

    @Test
    void aFlowOfAnotherHubbleNamesItsPolicyWithoutARule() {
        var h = HubbleFlows.toHubble(Flows.dropped()).toBuilder().setUnknownFields(com.google.protobuf.UnknownFieldSet.getDefaultInstance()).build();
        Flow f = HubbleFlows.fromHubble(h);
        assertEquals("product-service-allow-fortio", f.getPolicy().getName());
        assertEquals("", f.getPolicy().getRule());
        assertEquals("drop", f.getEventType());
        assertEquals(133, f.getDropReason());
    }
}
