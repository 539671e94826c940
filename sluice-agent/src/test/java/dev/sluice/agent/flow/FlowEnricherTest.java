package dev.sluice.agent.flow;

import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.abi.FlowEventType;
import dev.sluice.datapath.abi.FlowReply;
import dev.sluice.datapath.abi.FlowVerdict;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.Policy;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.sluice.datapath.abi.Direction.EGRESS;
import static dev.sluice.datapath.abi.Direction.INGRESS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Events as the datapath writes them, named from a directory as the agent builds it. */
class FlowEnricherTest {
    private static final int CLIENT = FlowDirectory.address("10.244.1.12");
    private static final int V1 = FlowDirectory.address("10.244.2.10");
    private static final int OTHER = FlowDirectory.address("10.244.2.20");
    private static final int VIP = FlowDirectory.address("10.96.0.10");
    private static final int WORLD = FlowDirectory.address("203.0.113.9");
    private static final Service PRODUCT = Service.newBuilder().setNamespace("default").setName("product-service").build();

    private static Endpoint pod(String name, int identity, String node, String app) {
        return Endpoint.newBuilder().setNamespace("default").setPodName(name).setIdentity(identity).setNode(node)
                .addLabels("k8s:app=" + app).build();
    }

    private final FlowDirectory directory = new FlowDirectory("node-2",
            Map.of(CLIENT, pod("client-a", 256, "node-1", "client"), V1, pod("product-v1-b", 257, "node-2", "product-service"),
                    OTHER, pod("other-c", 258, "node-2", "other")),
            Map.of(4242L, CLIENT),
            Map.of(2, List.of("reserved:world"), 256, List.of("k8s:app=client")),
            Map.of(FlowDirectory.key(VIP, 50051, 6), PRODUCT),
            // V1:50051 backs product-service only; OTHER:8080 is shared by two Services and names none of them.
            Map.of(FlowDirectory.key(V1, 50051, 6), PRODUCT),
            Map.of(7, Policy.newBuilder().setKind("CiliumNetworkPolicy").setNamespace("default").setName("from-client")
                    .setRule("ingress[0]").build()));

    private static FlowEvent event(int type, int verdict, int saddr, int daddr, int sport, int dport, int direction, int reply,
                                   int reason, int rule) {
        return new FlowEvent(System.nanoTime(), 0, saddr, daddr, sport, dport, 0, 0, 6, type, verdict, direction, 0x02, reply,
                reason, 9, 0, 0, rule, 60, 0, 0);
    }

    @Test
    void aDropNamesBothPodsTheReasonThePolicyAndTheServiceBehindTheBackend() {
        Flow flow = new FlowEnricher(directory).enrich(event(FlowEventType.DROP.value(), FlowVerdict.DROPPED.value(), CLIENT, V1, 41000, 50051,
                INGRESS.value(), FlowReply.NO.value(), DropReason.POLICY.value(), 7));
        assertEquals(Verdict.DROPPED, flow.getVerdict());
        assertEquals("client-a", flow.getSource().getPodName());
        assertEquals("node-1", flow.getSource().getNode());
        assertEquals("product-v1-b", flow.getDestination().getPodName());
        assertEquals("Policy denied", flow.getDropReasonDesc());
        assertEquals("from-client", flow.getPolicy().getName());
        assertEquals(PRODUCT, flow.getDestinationService());
        assertEquals(TrafficDirection.INGRESS, flow.getTrafficDirection());
        assertFalse(flow.getIsReply());
        assertEquals("drop", flow.getEventType());
        assertEquals("node-2", flow.getNodeName());
        assertTrue(flow.getL4().getTCP().getFlags().getSYN());
        assertEquals(50051, flow.getL4().getTCP().getDestinationPort());
        long ageMs = System.currentTimeMillis() - flow.getTime().getSeconds() * 1000 - flow.getTime().getNanos() / 1_000_000;
        assertTrue(ageMs >= -5 && ageMs < 5_000, "the kernel's clock turned into wall time: " + ageMs + " ms old");
    }

    @Test
    void aSocketTranslationFindsThePodByItsCgroupAndNamesTheFlowsThatFollowIt() {
        FlowEnricher enricher = new FlowEnricher(directory);
        FlowEvent xlate = new FlowEvent(System.nanoTime(), 4242L, 0, OTHER, 0, 8080, VIP, 50051, 6, FlowEventType.SERVICE_XLATE.value(),
                FlowVerdict.TRANSLATED.value(), EGRESS.value(), 0, FlowReply.NO.value(), 0, 0, 0, 0, 0, 0, 0, 0);
        Flow translated = enricher.enrich(xlate);
        assertEquals("client-a", translated.getSource().getPodName());
        assertEquals("10.244.1.12", translated.getIP().getSource());
        assertEquals(PRODUCT, translated.getDestinationService());
        assertEquals("trace-sock", translated.getEventType());
        assertEquals("post-xlate-fwd", translated.getTraceObservationPoint());
        assertEquals(Verdict.TRANSLATED, translated.getVerdict());

        // OTHER:8080 backs two Services, so only the translation this node saw can name the one used.
        Flow opened = enricher.enrich(event(FlowEventType.POLICY_VERDICT.value(), FlowVerdict.FORWARDED.value(), CLIENT, OTHER, 41001, 8080, EGRESS.value(),
                FlowReply.NO.value(), 0, 0));
        assertEquals(PRODUCT, opened.getDestinationService());
        assertEquals("from-endpoint", opened.getTraceObservationPoint());
        Flow unknown = enricher.enrich(event(FlowEventType.POLICY_VERDICT.value(), FlowVerdict.FORWARDED.value(), V1, OTHER, 41002, 8080, EGRESS.value(),
                FlowReply.NO.value(), 0, 0));
        assertFalse(unknown.hasDestinationService(), "no translation, a shared backend: no Service is named");
        assertFalse(new FlowEnricher(directory).enrich(event(FlowEventType.POLICY_VERDICT.value(), 1, CLIENT, OTHER, 41001, 8080, EGRESS.value(), FlowReply.NO.value(), 0, 0))
                .hasDestinationService());
    }

    @Test
    void aReplyNamesTheServiceOnItsSourceSideAndTheWorldByItsLabels() {
        FlowEnricher enricher = new FlowEnricher(directory);
        Flow reply = enricher.enrich(event(FlowEventType.CONN_END.value(), FlowVerdict.FORWARDED.value(), V1, CLIENT, 50051, 41000, INGRESS.value(),
                FlowReply.YES.value(), 0, 0));
        assertTrue(reply.getIsReply());
        assertEquals(PRODUCT, reply.getSourceService());
        assertFalse(reply.hasDestinationService());
        assertEquals("trace", reply.getEventType());
        assertEquals("from-endpoint", reply.getTraceObservationPoint(), "a reply to an ingress flow leaves the pod");

        FlowEvent fromWorld = new FlowEvent(System.nanoTime(), 0, WORLD, V1, 5000, 50051, 0, 0, 6, FlowEventType.DROP.value(), FlowVerdict.DROPPED.value(),
                INGRESS.value(), 0x02, FlowReply.NO.value(), DropReason.POLICY.value(), 9, 2, 257, 0, 60, 0, 0);
        Flow world = enricher.enrich(fromWorld);
        assertEquals(2, world.getSource().getIdentity());
        assertEquals(List.of("reserved:world"), world.getSource().getLabelsList());
        assertEquals("", world.getSource().getPodName());
        assertEquals("203.0.113.9", world.getIP().getSource());
    }

    @Test
    void anIpv6DropShowsItsAddressesAndAnIpv4FlowSaysIpv4() {
        FlowEvent v6 = new FlowEvent(System.nanoTime(), 0, 0, 0, 1000, 5353, 0, 0, 17, FlowEventType.DROP.value(), FlowVerdict.DROPPED.value(),
                INGRESS.value(), 0, FlowReply.NO.value(), DropReason.UNKNOWN_L3.value(), 9, 2, 257, 0, 70, 0, 0,
                0xfe80_0000_0000_0000L, 0x0000_0000_0000_0001L, 0xfe80_0000_0000_0000L, 0x0000_00ff_fe00_0042L, FlowEvent.IP_V6);
        Flow flow = new FlowEnricher(directory).enrich(v6);
        assertEquals("fe80::1", flow.getIP().getSource());
        assertEquals("fe80::ff:fe00:42", flow.getIP().getDestination());
        assertEquals(dev.sluice.observe.v1.IPVersion.IPv6, flow.getIP().getIpVersion());
        assertEquals(5353, flow.getL4().getUDP().getDestinationPort());
        assertEquals(257, flow.getDestination().getIdentity(), "named by its identity: no pod has an IPv6 address");
        assertEquals("Unsupported L3 protocol", flow.getDropReasonDesc());
        String compact = new dev.sluice.observe.FlowFormat(java.time.ZoneOffset.UTC).compact(flow);
        assertTrue(compact.contains("[fe80::1]:1000") && compact.contains("[fe80::ff:fe00:42]:5353"), compact);

        Flow v4 = new FlowEnricher(directory).enrich(event(FlowEventType.DROP.value(), FlowVerdict.DROPPED.value(), CLIENT, V1, 41000, 50051,
                INGRESS.value(), FlowReply.NO.value(), DropReason.POLICY.value(), 7));
        assertEquals(dev.sluice.observe.v1.IPVersion.IPv4, v4.getIP().getIpVersion());
    }

    @Test
    void icmpTakesItsTypeFromTheEvent() {
        FlowEvent unreachable = new FlowEvent(System.nanoTime(), 0, V1, CLIENT, 0, 0, 0, 0, 1, FlowEventType.POLICY_VERDICT.value(),
                FlowVerdict.FORWARDED.value(), EGRESS.value(), 11, FlowReply.NO.value(), 0, 9, 257, 256, 0, 60, 0, 0);
        assertEquals(11, new FlowEnricher(directory).enrich(unreachable).getL4().getICMPv4().getType());
    }

    @Test
    void aNewDirectoryTakesEffectForTheNextEvent() {
        FlowEnricher enricher = new FlowEnricher(FlowDirectory.empty("node-2"));
        FlowEvent e = event(FlowEventType.POLICY_VERDICT.value(), 1, CLIENT, V1, 41000, 50051, EGRESS.value(), FlowReply.NO.value(), 0, 0);
        assertEquals("", enricher.enrich(e).getSource().getPodName());
        enricher.directory(directory);
        assertEquals("client-a", enricher.enrich(e).getSource().getPodName());
    }
}
