package dev.sluice.observe.ui;

import dev.sluice.observe.Flows;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.HTTPHeader;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.observe.v1.Layer7;
import dev.sluice.observe.v1.Service;
import dev.sluice.observe.v1.Verdict;
import dev.sluice.observe.v1.Workload;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServiceMapTest {
    private static final long T0_NS = Flows.T0.getEpochSecond() * 1_000_000_000L + Flows.T0.getNano();

    private static Flow withWorkloads(Flow flow) {
        Flow.Builder b = flow.toBuilder();
        b.getSourceBuilder().addWorkloads(Workload.newBuilder().setKind("Deployment")
                .setName(flow.getSource().getPodName().replaceAll("-[a-z0-9]+$", "")));
        b.getDestinationBuilder().addWorkloads(Workload.newBuilder().setKind("Deployment").setName("product-service-v1"));
        return b.build();
    }

    private static Flow verdict(Flow flow) {
        return flow.toBuilder().setEventType("policy-verdict").build();
    }

    private static ServiceMap.Edge edge(ServiceMap.Snapshot s, String id) {
        return s.edges().stream().filter(e -> e.id().equals(id)).findFirst().orElseThrow(() -> new AssertionError(id + " not in " + s.edges()));
    }

    @Test
    void callersPointAtTheServiceWhichPointsAtItsBackendsAndDropsTurnTheirEdgeRed() {
        ServiceMap map = new ServiceMap();
        map.add(withWorkloads(verdict(Flows.forwarded())));
        map.add(withWorkloads(Flows.forwarded())); // a trace of the same connection: no second count
        map.add(withWorkloads(verdict(Flows.forwarded()).toBuilder()
                .setTrafficDirection(dev.sluice.observe.v1.TrafficDirection.EGRESS).build())); // its verdict at the caller: neither
        map.add(withWorkloads(Flows.reply()));
        map.add(withWorkloads(Flows.dropped()));

        ServiceMap.Snapshot s = map.snapshot(T0_NS + 1_000_000_000L);
        assertEquals(List.of("default/fortio-client", "default/product-service-v1", "default/some-rogue-pod", "svc:default/product-service"),
                s.nodes().stream().map(ServiceMap.Node::id).toList());
        ServiceMap.Edge client = edge(s, "default/fortio-client->svc:default/product-service");
        assertEquals("forwarded", client.state());
        assertEquals(1, client.forwarded());
        assertEquals(List.of("TCP"), client.protocols());
        assertEquals(List.of(50051), client.ports());
        assertEquals(0.1, client.ratePerSecond(), 1e-9, "one connection in the 10 s window");
        assertEquals("conn/s", client.rateUnit());

        ServiceMap.Edge rogue = edge(s, "default/some-rogue-pod->svc:default/product-service");
        assertEquals("dropped", rogue.state());
        assertEquals(Map.of("Policy denied by default/product-service-allow-fortio", 1L), rogue.dropReasons());

        ServiceMap.Edge backend = edge(s, "svc:default/product-service->default/product-service-v1");
        assertTrue(backend.backend());
        assertEquals("backend", backend.state());
        assertEquals(3, s.edges().size(), "the reply adds no edge: " + s.edges());

        // The window moves on: no traffic in the last 10 s is a rate of 0, the counts stay.
        ServiceMap.Edge later = edge(map.snapshot(T0_NS + 60_000_000_000L), client.id());
        assertEquals(0.0, later.ratePerSecond());
        assertEquals(1, later.forwarded());
    }

    @Test
    void anL7EdgeCountsRequestsAndIsMarkedByErrorResponses() {
        Flow request = withWorkloads(Flows.forwarded()).toBuilder().setEventType("l7")
                .setL7(Layer7.newBuilder().setType(L7FlowType.REQUEST).setHttp(HTTP.newBuilder().setMethod("POST").setProtocol("HTTP/2")
                        .setUrl("http://product-service:50051/sluice.echo.v1.Echo/Ping"))).build();
        Flow ok = request.toBuilder().setSource(request.getDestination()).setDestination(request.getSource()).clearDestinationService()
                .setSourceService(Service.newBuilder().setNamespace("default").setName("product-service")).setIsReply(true)
                .setL7(Layer7.newBuilder().setType(L7FlowType.RESPONSE).setHttp(HTTP.newBuilder().setCode(200).setProtocol("HTTP/2")
                        .addHeaders(HTTPHeader.newBuilder().setKey("grpc-status").setValue("0")))).build();
        ServiceMap map = new ServiceMap();
        for (int i = 0; i < 5; i++) {
            map.add(request);
            map.add(ok);
        }
        String id = "default/fortio-client->svc:default/product-service";
        ServiceMap.Edge edge = edge(map.snapshot(T0_NS), id);
        assertEquals("forwarded", edge.state());
        assertEquals(List.of("HTTP/2"), edge.protocols());
        assertEquals(0.5, edge.ratePerSecond(), 1e-9);
        assertEquals("req/s", edge.rateUnit());

        Flow unavailable = ok.toBuilder().setL7(ok.getL7().toBuilder().setHttp(ok.getL7().getHttp().toBuilder().setHeaders(0,
                HTTPHeader.newBuilder().setKey("grpc-status").setValue("14")))).build();
        map.add(unavailable);
        edge = edge(map.snapshot(T0_NS), id);
        assertEquals("l7-error", edge.state());
        assertEquals(1, edge.l7Errors());
        assertFalse(map.snapshot(T0_NS).edges().stream().anyMatch(e -> e.from().startsWith("svc:")
                && !e.backend()), "a response never makes an edge of its own");
    }

    @Test
    void aPeerOutsideAnyPodIsItsReservedIdentity() {
        ServiceMap map = new ServiceMap();
        map.add(Flows.forwarded().toBuilder().setSource(Flows.world()).setEventType("policy-verdict").setVerdict(Verdict.FORWARDED).build());
        assertTrue(map.snapshot(T0_NS).nodes().stream().anyMatch(n -> n.id().equals("reserved:world") && n.kind() == ServiceMap.Kind.reserved),
                map.snapshot(T0_NS).nodes().toString());
    }
}
