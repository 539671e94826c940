package dev.sluice.agent.flow;

import dev.sluice.observe.FlowFilters;
import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.v1.Endpoint;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import dev.sluice.proxy.AccessRecord;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The proxy's access records as Hubble's L7 flows, named from the node's directory, and Hubble's filters on them. */
class L7FlowsTest {
    private static final Endpoint CLIENT = Endpoint.newBuilder().setNamespace("default").setPodName("client-abc").setNode("node-1")
            .setIdentity(5012).addLabels("k8s:app=client").build();
    private static final Endpoint V1 = Endpoint.newBuilder().setNamespace("default").setPodName("product-service-v1-xyz")
            .setNode("node-2").setIdentity(7310).addLabels("k8s:app=product-service").build();
    private static final FlowDirectory DIR = new FlowDirectory("node-1",
            Map.of(FlowDirectory.address("10.244.1.5"), CLIENT, FlowDirectory.address("10.244.2.7"), V1),
            Map.of(), Map.of(), Map.of(), Map.of(), Map.of());
    private static final Instant START = Instant.parse("2026-04-10T12:34:56.789Z");

    private static AccessRecord record(int status, int grpcStatus, AccessRecord.Verdict verdict, String reason, boolean backend) {
        return new AccessRecord(START, 3_400_000, new InetSocketAddress("10.244.1.5", 41234),
                backend ? "10.244.2.7" : "", backend ? 50051 : 0, backend ? "default/product-service-v1-xyz" : "",
                "default/product-service", 50051, "default/product-service-v1", "HTTP/2", "POST", "http", "product-service:50051",
                "/sluice.echo.v1.Echo/Ping", status, grpcStatus, grpcStatus > 0 ? "denied%20here" : "", verdict, reason);
    }

    @Test
    void aForwardedGrpcCallIsARequestAndAResponseFlow() {
        List<Flow> flows = L7Flows.of(record(200, 0, AccessRecord.Verdict.FORWARDED, "", true), DIR);
        assertEquals(2, flows.size());
        Flow request = flows.get(0);
        Flow response = flows.get(1);
        assertEquals(L7FlowType.REQUEST, request.getL7().getType());
        assertEquals(CLIENT, request.getSource());
        assertEquals(V1, request.getDestination());
        assertEquals("product-service", request.getDestinationService().getName());
        assertEquals("10.244.1.5", request.getIP().getSource());
        assertEquals(50051, request.getL4().getTCP().getDestinationPort());
        assertEquals(0, request.getL7().getHttp().getCode());
        assertEquals("http://product-service:50051/sluice.echo.v1.Echo/Ping", request.getL7().getHttp().getUrl());
        assertEquals("l7", request.getEventType());
        assertEquals(TrafficDirection.EGRESS, request.getTrafficDirection());
        assertEquals(Verdict.FORWARDED, request.getVerdict());
        assertEquals(START.getEpochSecond(), request.getTime().getSeconds());

        assertEquals(L7FlowType.RESPONSE, response.getL7().getType());
        assertEquals(V1, response.getSource());
        assertEquals(CLIENT, response.getDestination());
        assertTrue(response.getIsReply());
        assertEquals(200, response.getL7().getHttp().getCode());
        assertEquals(3_400_000, response.getL7().getLatencyNs());
        assertEquals("grpc-status", response.getL7().getHttp().getHeaders(0).getKey());
        assertEquals("0", response.getL7().getHttp().getHeaders(0).getValue());
        assertEquals("product-service", response.getSourceService().getName());

        FlowFormat format = new FlowFormat(ZoneOffset.UTC);
        assertEquals("Apr 10 12:34:56.789: default/client-abc:41234 (ID:5012) -> default/product-service-v1-xyz:50051 (ID:7310) "
                + "http-request FORWARDED (HTTP/2 POST http://product-service:50051/sluice.echo.v1.Echo/Ping)", format.compact(request));
        assertEquals("Apr 10 12:34:56.792: default/client-abc:41234 (ID:5012) <- default/product-service-v1-xyz:50051 (ID:7310) "
                + "http-response FORWARDED (HTTP/2 200 3ms (POST http://product-service:50051/sluice.echo.v1.Echo/Ping))",
                format.compact(response));

        // Hubble's filters: --protocol http, --http-status 200 (responses only), --http-method, --http-path, --type l7.
        assertEquals(2, count(flows, FlowFilter.newBuilder().addProtocol("http").build()));
        assertEquals(1, count(flows, FlowFilter.newBuilder().addHttpStatusCode("200").build()));
        assertEquals(1, count(flows, FlowFilter.newBuilder().addHttpStatusCode("2+").build()));
        assertEquals(0, count(flows, FlowFilter.newBuilder().addHttpStatusCode("5+").build()));
        assertEquals(2, count(flows, FlowFilter.newBuilder().addHttpMethod("post").build()));
        assertEquals(0, count(flows, FlowFilter.newBuilder().addHttpMethod("GET").build()));
        assertEquals(2, count(flows, FlowFilter.newBuilder().addHttpPath("^/sluice\\.echo\\.v1\\.Echo/").build()));
        assertEquals(0, count(flows, FlowFilter.newBuilder().addHttpPath("^/other").build()));
        assertEquals(2, count(flows, FlowFilter.newBuilder().addEventType("l7").build()));
        assertEquals(1, count(flows, FlowFilter.newBuilder().addSourcePod("default/client").build()));
    }

    @Test
    void aDenialIsDroppedWithThePolicyReasonAndAnUnroutedRequestAnError() {
        List<Flow> denied = L7Flows.of(record(200, 7, AccessRecord.Verdict.DENIED,
                "CiliumNetworkPolicy default/product-service-from-client allows no such call", true), DIR);
        for (Flow f : denied) {
            assertEquals(Verdict.DROPPED, f.getVerdict());
            assertEquals("Policy denied", f.getDropReasonDesc());
            assertTrue(f.getL7().getHttp().getHeadersList().stream().anyMatch(h -> h.getKey().equals("x-sluice-reason")
                    && h.getValue().contains("product-service-from-client")), f.toString());
        }
        assertEquals("7", denied.get(1).getL7().getHttp().getHeaders(0).getValue());
        assertEquals("grpc-message", denied.get(1).getL7().getHttp().getHeaders(1).getKey());

        List<Flow> unrouted = L7Flows.of(record(404, -1, AccessRecord.Verdict.ERROR, "no route for authority", false), DIR);
        assertEquals(Verdict.ERROR, unrouted.get(1).getVerdict());
        assertEquals(404, unrouted.get(1).getL7().getHttp().getCode());
        assertEquals(CLIENT, unrouted.get(0).getSource());
        assertEquals(Endpoint.getDefaultInstance(), unrouted.get(0).getDestination());
        assertFalse(unrouted.get(1).getL7().getHttp().getHeadersList().stream().anyMatch(h -> h.getKey().equals("grpc-status")));
        assertEquals(1, count(unrouted, FlowFilter.newBuilder().addHttpStatusCode("4+").build()));
    }

    private static long count(List<Flow> flows, FlowFilter filter) {
        var match = FlowFilters.compile(List.of(filter), List.of());
        return flows.stream().filter(match).count();
    }
}
