package dev.sluice.observe.hubble;

import dev.sluice.observe.FlowFilters;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.Verdict;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HubbleFiltersTest {

    private static final List<FlowFilter> FILTERS = List.of(
            FlowFilter.newBuilder().addPod("default/fortio").build(),
            FlowFilter.newBuilder().addPod("default/product").addVerdict(Verdict.DROPPED).build(),
            FlowFilter.newBuilder().addPod("default/some-rogue").addPort("50051").build(),
            FlowFilter.newBuilder().addNamespace("default").addPod("default/fortio").build(),
            FlowFilter.newBuilder().addNamespace("kube-system").build(),
            FlowFilter.newBuilder().addIp("10.0.1.5").addIdentity(7310).build(),
            FlowFilter.newBuilder().addSourcePod("default/fortio").addPod("default/product").build(),
            FlowFilter.newBuilder().addSourcePod("default/").addPod("default/fortio").addPort("41234").build(),
            FlowFilter.newBuilder().addIp("10.0.0.0/8").addEventType("trace").build(),
            FlowFilter.newBuilder().addDropReason(133).addDestinationIdentity(7310).build(),
            FlowFilter.newBuilder().addPort("53").addProtocol("udp").build(),
            FlowFilter.newBuilder().addHttpStatusCode("5+").addHttpMethod("GET").addNodeName("node-*").build());

    /** For every filter, the Hubble filters sent for it and evaluated by a node match exactly the same flows. */
    @Test
    void theFiltersOnTheWireMatchWhatTheSluiceFilterMatches() {
        List<Flow> flows = HubbleFlowsTest.everyKind();
        int matched = 0;
        for (FlowFilter filter : FILTERS) {
            Predicate<Flow> sluice = FlowFilters.of(filter);
            Predicate<Flow> wire = FlowFilters.compile(HubbleFilters.toSluice(HubbleFilters.toHubble(filter)), List.of());
            List<dev.sluice.hubble.flow.FlowFilter> sent = HubbleFilters.toHubble(filter);
            for (Flow flow : flows) {
                boolean expected = sluice.test(flow);
                assertEquals(expected, !sent.isEmpty() && wire.test(flow), filter + " on " + flow);
                matched += expected ? 1 : 0;
            }
        }
        assertTrue(matched > 5, "the filters match some flows, not none: " + matched);
    }

    @Test
    void aFieldSluiceDoesNotEvaluateIsRefusedByItsNumber() throws Exception {
        // Hubble's FlowFilter.tcp_flags (23, a TCPFlags message), which this build's flow.proto leaves out.
        byte[] wire = com.google.protobuf.UnknownFieldSet.newBuilder()
                .addField(23, com.google.protobuf.UnknownFieldSet.Field.newBuilder()
                        .addLengthDelimited(com.google.protobuf.ByteString.copyFrom(new byte[] {0x08, 0x01})).build())
                .build().toByteArray();
        var filter = dev.sluice.hubble.flow.FlowFilter.parseFrom(wire);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HubbleFilters.toSluice(filter));
        assertTrue(e.getMessage().contains("[23]"), e.getMessage());
    }

    @Test
    void eventTypesAreCiliumsNumbers() {
        var sent = HubbleFilters.toHubble(FlowFilter.newBuilder().addEventType("drop").addEventType("l7").build());
        assertEquals(1, sent.size());
        assertEquals(List.of(1, 129), sent.getFirst().getEventTypeList().stream().map(t -> t.getType()).toList());
    }

    @Test
    void dropReasonsByTextNameOrCode() {
        assertEquals(133, DropReasonNames.code("Policy denied"));
        assertEquals(133, DropReasonNames.code("POLICY_DENIED"));
        assertEquals(181, DropReasonNames.code("policy denied by denylist"));
        assertEquals(240, DropReasonNames.code("240"));
        assertThrows(IllegalArgumentException.class, () -> DropReasonNames.code("because"));
    }
}
