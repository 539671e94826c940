package dev.sluice.observe;

import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.TrafficDirection;
import org.junit.jupiter.api.Test;

import java.time.ZoneOffset;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class FlowFormatTest {
    private final FlowFormat format = new FlowFormat(ZoneOffset.UTC);

    @Test
    void forwarded() {
        assertEquals("Apr 10 12:34:56.789: default/fortio-client-xxxxx:41234 (ID:5012) -> "
                + "default/product-service-v1-yyyyy:50051 (ID:7310) to-endpoint FORWARDED (TCP Flags: SYN)",
                format.compact(Flows.forwarded()));
    }

    @Test
    void droppedNamesTheReasonTheDirectionAndThePolicyAsTheSeedPrintsIt() {
        assertEquals("Apr 10 12:34:57.123: default/some-rogue-pod-zzzzz:51022 (ID:9120) <> "
                + "default/product-service-v1-yyyyy:50051 (ID:7310) DROPPED (Policy denied on ingress by CiliumNetworkPolicy "
                + "default/product-service-allow-fortio; TCP Flags: SYN)",
                format.compact(Flows.dropped()));
        Flow opening = Flows.dropped().toBuilder().setIsReply(false).clearPolicy().setTrafficDirection(TrafficDirection.EGRESS).build();
        assertEquals("Apr 10 12:34:57.123: default/some-rogue-pod-zzzzz:51022 (ID:9120) -> "
                + "default/product-service-v1-yyyyy:50051 (ID:7310) DROPPED (Policy denied on egress; TCP Flags: SYN)",
                format.compact(opening));
    }

    @Test
    void theNodeFollowsTheTimeWhenAsked() {
        assertEquals("Apr 10 12:34:56.789 [node-2]: default/fortio-client-xxxxx:41234 (ID:5012) -> "
                + "default/product-service-v1-yyyyy:50051 (ID:7310) to-endpoint FORWARDED (TCP Flags: SYN)",
                format.compact(Flows.forwarded(), true));
        assertEquals("TIMESTAMP             NODE     SOURCE", format.table(List.of(Flows.forwarded()), true).getFirst().substring(0, 37));
    }

    @Test
    void replyPrintsFromTheClientsSide() {
        assertEquals("Apr 10 12:34:56.790: default/fortio-client-xxxxx:41234 (ID:5012) <- "
                + "default/product-service-v1-yyyyy:50051 (ID:7310) to-stack FORWARDED (TCP Flags: SYN, ACK)",
                format.compact(Flows.reply()));
    }

    @Test
    void serviceNameWhenThereIsNoPodAndReservedIdentitiesByName() {
        assertEquals("Apr 10 12:34:56.792: default/fortio-client-xxxxx:53100 (ID:5012) -> "
                + "kube-system/kube-dns:53 (ID:4821) to-stack FORWARDED (UDP)", format.compact(Flows.udpToService()));
        assertEquals("Apr 10 12:34:56.793: 192.0.2.1 (world) -> default/fortio-client-xxxxx (ID:5012) "
                + "to-endpoint FORWARDED (ICMPv4 EchoRequest)", format.compact(Flows.icmpFromWorld()));
    }

    @Test
    void httpResponse() {
        assertEquals("Apr 10 12:34:56.791: default/fortio-client-xxxxx:41300 (ID:5012) <- "
                + "default/product-service-v1-yyyyy:8080 (ID:7310) http-response FORWARDED "
                + "(HTTP/1.1 503 4ms (GET http://product-service:8080/products/42))", format.compact(Flows.httpResponse()));
    }

    @Test
    void l7RequestAndADeniedRequestReadAsHubbleReadsThem() {
        Flow request = Flows.httpResponse().toBuilder().setSource(Flows.client()).setDestination(Flows.product()).setIsReply(false)
                .setL4(Flows.httpResponse().getL4().toBuilder().setTCP(dev.sluice.observe.v1.TCP.newBuilder().setSourcePort(41300)
                        .setDestinationPort(50051)))
                .setL7(dev.sluice.observe.v1.Layer7.newBuilder().setType(dev.sluice.observe.v1.L7FlowType.REQUEST)
                        .setHttp(dev.sluice.observe.v1.HTTP.newBuilder().setMethod("POST").setProtocol("HTTP/2")
                                .setUrl("http://product-service:50051/sluice.echo.v1.Echo/Ping"))).build();
        assertEquals("Apr 10 12:34:56.791: default/fortio-client-xxxxx:41300 (ID:5012) -> "
                + "default/product-service-v1-yyyyy:50051 (ID:7310) http-request FORWARDED "
                + "(HTTP/2 POST http://product-service:50051/sluice.echo.v1.Echo/Ping)", format.compact(request));
        Flow denied = request.toBuilder().setVerdict(dev.sluice.observe.v1.Verdict.DROPPED).setDropReason(133)
                .setDropReasonDesc("Policy denied").setL7(request.getL7().toBuilder().setHttp(request.getL7().getHttp().toBuilder()
                        .addHeaders(dev.sluice.observe.v1.HTTPHeader.newBuilder().setKey("x-sluice-reason").setValue("no rule allows it"))))
                .build();
        assertEquals("Apr 10 12:34:56.791: default/fortio-client-xxxxx:41300 (ID:5012) -> "
                + "default/product-service-v1-yyyyy:50051 (ID:7310) http-request DROPPED "
                + "(HTTP/2 POST http://product-service:50051/sluice.echo.v1.Echo/Ping; Policy denied: no rule allows it)",
                format.compact(denied));
    }

    @Test
    void singleDigitDaysArePaddedAsHubblePadsThem() {
        Flow flow = Flows.forwarded().toBuilder().setTime(Flows.at(java.time.Instant.parse("2025-04-01T01:02:03.004Z"))).build();
        assertEquals("Apr  1 01:02:03.004:", format.compact(flow).substring(0, 20));
    }

    @Test
    void jsonIsOneLineAndParsesBackToTheSameFlow() throws Exception {
        for (Flow flow : List.of(Flows.forwarded(), Flows.dropped(), Flows.reply(), Flows.httpResponse(), Flows.udpToService(), Flows.icmpFromWorld())) {
            String json = FlowFormat.json(flow);
            assertEquals(-1, json.indexOf('\n'));
            assertEquals(flow, FlowFormat.parseJson(json));
        }
        String dropped = FlowFormat.json(Flows.dropped());
        assertEquals(true, dropped.contains("\"verdict\":\"DROPPED\""), dropped);
        assertEquals(true, dropped.contains("\"dropReasonDesc\":\"Policy denied\""), dropped);
    }

    @Test
    void tableAlignsColumns() {
        List<String> lines = format.table(List.of(Flows.forwarded(), Flows.dropped()));
        assertEquals(List.of(
                "TIMESTAMP             SOURCE                                         DESTINATION                                        TYPE          VERDICT     SUMMARY",
                "Apr 10 12:34:56.789   default/fortio-client-xxxxx:41234 (ID:5012)    default/product-service-v1-yyyyy:50051 (ID:7310)   to-endpoint   FORWARDED   TCP Flags: SYN",
                "Apr 10 12:34:57.123   default/some-rogue-pod-zzzzz:51022 (ID:9120)   default/product-service-v1-yyyyy:50051 (ID:7310)                 DROPPED     "
                        + "Policy denied on ingress by CiliumNetworkPolicy default/product-service-allow-fortio; TCP Flags: SYN"),
                lines);
    }

    @Test
    void dictPrintsOneFieldALine() {
        assertEquals(List.of(
                "  TIMESTAMP: Apr 10 12:34:57.123",
                "       NODE: node-2",
                "     SOURCE: default/some-rogue-pod-zzzzz:51022 (ID:9120)",
                "DESTINATION: default/product-service-v1-yyyyy:50051 (ID:7310)",
                "       TYPE: Policy denied",
                "    VERDICT: DROPPED",
                "    SUMMARY: Policy denied on ingress by CiliumNetworkPolicy default/product-service-allow-fortio; TCP Flags: SYN",
                "------------"), format.dict(Flows.dropped(), true));
    }
}
