package dev.sluice.observe.metrics;

import dev.sluice.observe.Flows;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.IP;
import dev.sluice.observe.v1.Layer7;
import dev.sluice.observe.v1.Policy;
import dev.sluice.observe.v1.TCPFlags;
import dev.sluice.observe.v1.TrafficDirection;
import dev.sluice.observe.v1.Verdict;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static dev.sluice.observe.metrics.Scrapes.samples;
import static dev.sluice.observe.metrics.Scrapes.scrape;
import static dev.sluice.observe.metrics.Scrapes.serve;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FlowMetricsTest {
    /** An HTTP request from the client, seen on the server's ingress: code 0. */
    private static Flow httpRequest() {
        return Flows.httpResponse().toBuilder().setSource(Flows.client()).setDestination(Flows.product())
                .setIsReply(false).setTrafficDirection(TrafficDirection.INGRESS)
                .setL7(Layer7.newBuilder().setHttp(HTTP.newBuilder().setMethod("POST")
                        .setUrl("http://product-service:8080/products").setProtocol("HTTP/1.1"))).build();
    }

    /** A UDP flow an egress deny rule dropped: reason 181. */
    private static Flow deniedByRule() {
        return Flows.udpToService().toBuilder().setVerdict(Verdict.DROPPED).setDropReason(181)
                .setDropReasonDesc("Policy denied by denylist").setEventType("drop").clearTraceObservationPoint()
                .setPolicy(Policy.newBuilder().setKind("CiliumNetworkPolicy").setNamespace("default")
                        .setName("no-dns").setRule("egressDeny[0]")).build();
    }

    private static Flow policyVerdict(TrafficDirection direction, boolean withPolicy) {
        Flow.Builder flow = Flows.forwarded().toBuilder().setEventType("policy-verdict").clearTraceObservationPoint()
                .setTrafficDirection(direction);
        return (withPolicy ? flow : flow.clearPolicy()).build();
    }

    private static Flow tcp(String source, String destination, TCPFlags flags, Verdict verdict) {
        return Flows.forwarded().toBuilder().setVerdict(verdict)
                .setIP(IP.newBuilder().setSource(source).setDestination(destination))
                .setL4(Flows.tcp(41234, 50051, flags)).build();
    }

    @Test
    void exposesHubblesFlowMetrics() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        FlowMetrics metrics = new FlowMetrics(registry);
        List<Flow> flows = new ArrayList<>(List.of(Flows.forwarded(), Flows.dropped(), Flows.reply(),
                Flows.httpResponse(), Flows.udpToService(), Flows.icmpFromWorld(), httpRequest(), deniedByRule(),
                policyVerdict(TrafficDirection.INGRESS, true), policyVerdict(TrafficDirection.EGRESS, false)));
        // A service without backends and a code Hubble does not name, the first without L4.
        flows.add(Flows.dropped().toBuilder().setDropReason(158).setDropReasonDesc("Service backend not found")
                .clearL4().clearPolicy().build());
        flows.add(Flows.icmpFromWorld().toBuilder().setVerdict(Verdict.DROPPED).setDropReason(250).setEventType("drop")
                .clearTraceObservationPoint().build());
        // FIN and RST of one forwarded segment, an IPv6 SYN, a redirected SYN, and a dropped one that does not count.
        flows.add(tcp("10.0.1.5", "10.0.2.9", TCPFlags.newBuilder().setFIN(true).setRST(true).setACK(true).build(), Verdict.FORWARDED));
        flows.add(tcp("fd00::5", "fd00::9", Flows.syn(), Verdict.FORWARDED).toBuilder().setEventType("trace-sock")
                .clearTraceObservationPoint().build());
        flows.add(tcp("10.0.1.5", "10.0.2.9", Flows.syn(), Verdict.REDIRECTED));
        flows.add(Flows.dropped().toBuilder().setDropReason(0).setEventType("drop").build());
        flows.forEach(metrics::record);
        metrics.lostEvents("perf_event_ring_buffer", 7);
        metrics.lostEvents("perf_event_ring_buffer", 3);
        metrics.lostEvents("observer_events_queue", 0);

        try (MetricsServer server = serve(registry)) {
            List<String> lines = scrape(server);
            assertEquals(List.of(
                    "hubble_flows_processed_total{subtype=\"\",type=\"Drop\",verdict=\"DROPPED\"} 5.0",
                    "hubble_flows_processed_total{subtype=\"\",type=\"PolicyVerdict\",verdict=\"FORWARDED\"} 2.0",
                    "hubble_flows_processed_total{subtype=\"\",type=\"SockTrace\",verdict=\"FORWARDED\"} 1.0",
                    "hubble_flows_processed_total{subtype=\"HTTP\",type=\"L7\",verdict=\"FORWARDED\"} 2.0",
                    "hubble_flows_processed_total{subtype=\"to-endpoint\",type=\"Trace\",verdict=\"FORWARDED\"} 3.0",
                    "hubble_flows_processed_total{subtype=\"to-endpoint\",type=\"Trace\",verdict=\"REDIRECTED\"} 1.0",
                    "hubble_flows_processed_total{subtype=\"to-stack\",type=\"Trace\",verdict=\"FORWARDED\"} 2.0"),
                    sorted(samples(lines, "hubble_flows_processed_total")));
            assertEquals(List.of(
                    "hubble_drop_total{protocol=\"ICMPv4\",reason=\"DROP_REASON_250\"} 1.0",
                    "hubble_drop_total{protocol=\"TCP\",reason=\"DROP_REASON_UNKNOWN\"} 1.0",
                    "hubble_drop_total{protocol=\"TCP\",reason=\"POLICY_DENIED\"} 1.0",
                    "hubble_drop_total{protocol=\"UDP\",reason=\"POLICY_DENY\"} 1.0",
                    "hubble_drop_total{protocol=\"Unknown\",reason=\"SERVICE_BACKEND_NOT_FOUND\"} 1.0"),
                    sorted(samples(lines, "hubble_drop_total")));
            assertEquals(List.of(
                    "hubble_policy_verdicts_total{action=\"dropped\",direction=\"egress\",match=\"l3-l4\"} 1.0",
                    "hubble_policy_verdicts_total{action=\"dropped\",direction=\"ingress\",match=\"none\"} 1.0",
                    "hubble_policy_verdicts_total{action=\"forwarded\",direction=\"egress\",match=\"all\"} 1.0",
                    "hubble_policy_verdicts_total{action=\"forwarded\",direction=\"ingress\",match=\"l3-l4\"} 1.0"),
                    sorted(samples(lines, "hubble_policy_verdicts_total")));
            // SYN: forwarded, the policy verdict, the redirected one; SYN-ACK: the reply. Dropped SYNs are drops.
            assertEquals(List.of(
                    "hubble_tcp_flags_total{family=\"IPv4\",flag=\"FIN\"} 1.0",
                    "hubble_tcp_flags_total{family=\"IPv4\",flag=\"RST\"} 1.0",
                    "hubble_tcp_flags_total{family=\"IPv4\",flag=\"SYN\"} 4.0",
                    "hubble_tcp_flags_total{family=\"IPv4\",flag=\"SYN-ACK\"} 1.0",
                    "hubble_tcp_flags_total{family=\"IPv6\",flag=\"SYN\"} 1.0"),
                    sorted(samples(lines, "hubble_tcp_flags_total")));
            assertEquals(List.of("hubble_http_requests_total{method=\"POST\",protocol=\"HTTP/1.1\",reporter=\"server\"} 1.0"),
                    samples(lines, "hubble_http_requests_total"));
            assertEquals(List.of("hubble_http_responses_total{method=\"GET\",reporter=\"client\",status=\"503\"} 1.0"),
                    samples(lines, "hubble_http_responses_total"));
            // 4 ms: in every bucket from 5 ms up.
            List<String> durations = new ArrayList<>();
            for (String le : List.of("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")) {
                durations.add("hubble_http_request_duration_seconds_bucket{method=\"GET\",reporter=\"client\",le=\"" + le + "\"} 1");
            }
            durations.add("hubble_http_request_duration_seconds_count{method=\"GET\",reporter=\"client\"} 1");
            durations.add("hubble_http_request_duration_seconds_sum{method=\"GET\",reporter=\"client\"} 0.004");
            assertEquals(durations, lines.stream().filter(line -> line.startsWith("hubble_http_request_duration_seconds_")).toList());
            assertEquals(List.of(
                    "hubble_lost_events_total{source=\"hubble_ring_buffer\"} 0.0",
                    "hubble_lost_events_total{source=\"observer_events_queue\"} 0.0",
                    "hubble_lost_events_total{source=\"perf_event_ring_buffer\"} 10.0"),
                    sorted(samples(lines, "hubble_lost_events_total")));
            assertTrue(lines.contains("# TYPE hubble_flows_processed_total counter"), String.join("\n", lines));
            assertTrue(lines.contains("# TYPE hubble_http_request_duration_seconds histogram"));
        }
    }

    /** hubble.metrics.enabled: [drop, "tcp:..."] exposes those families and the lost events, nothing else. */
    @Test
    void onlyTheFamiliesTheValuesEnableAreExposed() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        FlowMetrics metrics = new FlowMetrics(registry, List.of("drop", "tcp:sourceContext=pod", "dns:query"));
        List.of(Flows.forwarded(), Flows.dropped(), Flows.httpResponse(), httpRequest()).forEach(metrics::record);
        try (MetricsServer server = serve(registry)) {
            List<String> lines = scrape(server);
            assertEquals(1, samples(lines, "hubble_drop_total").size(), lines.toString());
            assertEquals(1, samples(lines, "hubble_tcp_flags_total").size(), lines.toString());
            assertEquals(3, samples(lines, "hubble_lost_events_total").size(), lines.toString());
            for (String absent : List.of("hubble_flows_processed_total", "hubble_policy_verdicts_total", "hubble_http_requests_total",
                    "hubble_http_responses_total", "hubble_http_request_duration_seconds_count")) {
                assertEquals(List.of(), samples(lines, absent), absent);
            }
        }
        assertEquals(List.of("dns:query", "port-distribution"),
                dev.sluice.model.SluiceValues.Hubble.unsupported(List.of("drop", "dns:query", "httpV2:exemplars=true", "port-distribution")));
    }

    @Test
    void oddFlowsDoNotThrow() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        FlowMetrics metrics = new FlowMetrics(registry);
        assertDoesNotThrow(() -> {
            metrics.record(Flow.getDefaultInstance());
            metrics.record(Flows.forwarded().toBuilder().setEventType("capture").clearL4().clearIP().build());
            metrics.record(Flows.forwarded().toBuilder().clearL4().build());
            metrics.record(Flows.forwarded().toBuilder().clearIP().build());
            metrics.record(Flows.dropped().toBuilder().clearL4().clearTrafficDirection().setVerdictValue(42).build());
            metrics.record(Flows.httpResponse().toBuilder().setL7(Layer7.getDefaultInstance()).build());
            metrics.record(Flows.httpResponse().toBuilder().setEventType("l7").setL7(Layer7.newBuilder()
                    .setHttp(HTTP.newBuilder().setCode(200))).clearL4().clearTrafficDirection().build());
            metrics.lostEvents("somewhere_new", 1);
        });
        assertThrows(IllegalArgumentException.class, () -> metrics.lostEvents("hubble_ring_buffer", -1));
        try (MetricsServer server = serve(registry)) {
            List<String> lines = scrape(server);
            assertEquals(List.of(
                    "hubble_flows_processed_total{subtype=\"\",type=\"\",verdict=\"VERDICT_UNKNOWN\"} 1.0",
                    "hubble_flows_processed_total{subtype=\"\",type=\"Drop\",verdict=\"UNRECOGNIZED\"} 1.0",
                    "hubble_flows_processed_total{subtype=\"\",type=\"L7\",verdict=\"FORWARDED\"} 1.0",
                    "hubble_flows_processed_total{subtype=\"\",type=\"capture\",verdict=\"FORWARDED\"} 1.0",
                    "hubble_flows_processed_total{subtype=\"HTTP\",type=\"L7\",verdict=\"FORWARDED\"} 1.0",
                    "hubble_flows_processed_total{subtype=\"to-endpoint\",type=\"Trace\",verdict=\"FORWARDED\"} 2.0"),
                    sorted(samples(lines, "hubble_flows_processed_total")));
            assertEquals(List.of(), samples(lines, "hubble_drop_total"), "verdict 42 is not DROPPED");
            assertEquals(List.of("hubble_policy_verdicts_total{action=\"unrecognized\",direction=\"traffic_direction_unknown\",match=\"l3-l4\"} 1.0"),
                    samples(lines, "hubble_policy_verdicts_total"));
            assertEquals(List.of(), samples(lines, "hubble_tcp_flags_total"), "no TCP, no IP to name a family, or only ACK and PSH");
            // No traffic direction: Hubble's reporter "unknown".
            assertEquals(List.of("hubble_http_responses_total{method=\"\",reporter=\"unknown\",status=\"200\"} 1.0"),
                    samples(lines, "hubble_http_responses_total"));
            assertTrue(lines.contains("hubble_lost_events_total{source=\"somewhere_new\"} 1.0"), String.join("\n", lines));
        }
    }

    @Test
    void countsEveryFlowFromManyThreads() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        FlowMetrics metrics = new FlowMetrics(registry);
        List<Thread> threads = IntStream.range(0, 8).mapToObj(t -> Thread.ofPlatform().start(() -> {
            for (int i = 0; i < 10_000; i++) {
                metrics.record(Flows.forwarded());
                metrics.record(Flows.dropped());
            }
        })).toList();
        for (Thread thread : threads) {
            thread.join();
        }
        try (MetricsServer server = serve(registry)) {
            List<String> lines = scrape(server);
            assertTrue(lines.contains("hubble_flows_processed_total{subtype=\"to-endpoint\",type=\"Trace\",verdict=\"FORWARDED\"} 80000.0"),
                    String.join("\n", lines));
            assertTrue(lines.contains("hubble_drop_total{protocol=\"TCP\",reason=\"POLICY_DENIED\"} 80000.0"));
        }
    }

    private static List<String> sorted(List<String> lines) {
        return lines.stream().sorted().toList();
    }

    /** A gRPC call through the proxy as its request and response L7 flows (egress: the client's proxy reports). */
    private static List<Flow> grpcCall(int code, long latencyNs) {
        Flow request = Flows.forwarded().toBuilder().setEventType("l7").setTrafficDirection(TrafficDirection.EGRESS)
                .setL7(Layer7.newBuilder().setType(dev.sluice.observe.v1.L7FlowType.REQUEST).setHttp(HTTP.newBuilder()
                        .setMethod("POST").setUrl("http://product-service:50051/sluice.echo.v1.Echo/Ping").setProtocol("HTTP/2"))).build();
        Flow response = request.toBuilder().setL7(Layer7.newBuilder().setType(dev.sluice.observe.v1.L7FlowType.RESPONSE)
                .setLatencyNs(latencyNs).setHttp(request.getL7().getHttp().toBuilder().setCode(code))).build();
        return List.of(request, response);
    }

    @Test
    void httpV2CountsResponsesWithTheirStatusAndHttpCountsRequests() throws Exception {
        PrometheusRegistry v2Registry = new PrometheusRegistry();
        FlowMetrics v2 = new FlowMetrics(v2Registry, List.of("httpV2:exemplars=true;labelsContext=source_namespace"));
        PrometheusRegistry v1Registry = new PrometheusRegistry();
        FlowMetrics v1 = new FlowMetrics(v1Registry, List.of("http"));
        for (int i = 0; i < 3; i++) {
            grpcCall(200, 2_000_000).forEach(f -> { v1.record(f); v2.record(f); });
        }
        grpcCall(503, 20_000_000).forEach(f -> { v1.record(f); v2.record(f); });
        try (MetricsServer server = serve(v2Registry)) {
            List<String> lines = scrape(server);
            assertEquals(List.of(
                    "hubble_http_requests_total{method=\"POST\",protocol=\"HTTP/2\",reporter=\"client\",source_namespace=\"default\",status=\"200\"} 3.0",
                    "hubble_http_requests_total{method=\"POST\",protocol=\"HTTP/2\",reporter=\"client\",source_namespace=\"default\",status=\"503\"} 1.0"),
                    sorted(samples(lines, "hubble_http_requests_total")));
            assertEquals(List.of(), samples(lines, "hubble_http_responses_total"), "httpV2 has no responses counter");
            assertTrue(lines.contains("hubble_http_request_duration_seconds_count{method=\"POST\",reporter=\"client\",source_namespace=\"default\"} 4"),
                    String.join("\n", lines));
            assertTrue(lines.contains("hubble_http_request_duration_seconds_bucket{method=\"POST\",reporter=\"client\",source_namespace=\"default\",le=\"0.005\"} 3"),
                    String.join("\n", lines));
        }
        try (MetricsServer server = serve(v1Registry)) {
            List<String> lines = scrape(server);
            assertEquals(List.of("hubble_http_requests_total{method=\"POST\",protocol=\"HTTP/2\",reporter=\"client\"} 4.0"),
                    samples(lines, "hubble_http_requests_total"));
            assertEquals(List.of(
                    "hubble_http_responses_total{method=\"POST\",reporter=\"client\",status=\"200\"} 3.0",
                    "hubble_http_responses_total{method=\"POST\",reporter=\"client\",status=\"503\"} 1.0"),
                    sorted(samples(lines, "hubble_http_responses_total")));
        }
    }

    @Test
    void hubblesContextOptionsNameTheCallersAndTheServersOfBothHalvesAlike() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        FlowMetrics metrics = new FlowMetrics(registry, List.of("flow", "http:sourceContext=workload-name|reserved-identity;"
                + "destinationContext=pod-name;labelsContext=source_namespace;bogus=1"));
        var client = Flows.client().toBuilder().addWorkloads(dev.sluice.observe.v1.Workload.newBuilder().setName("fortio-client")
                .setKind("Deployment")).build();
        var server = Flows.product();
        for (Flow f : grpcCall(200, 1_000_000)) {
            boolean response = f.getL7().getType() == dev.sluice.observe.v1.L7FlowType.RESPONSE;
            metrics.record(f.toBuilder().setSource(response ? server : client).setDestination(response ? client : server).build());
        }
        // From the world (reserved identity 2, no workload): the fallback context names it.
        metrics.record(grpcCall(200, 1_000_000).getFirst().toBuilder()
                .setSource(dev.sluice.observe.v1.Endpoint.newBuilder().setIdentity(2)).setDestination(server).build());
        assertEquals(List.of("http:sourceContext=workload-name|reserved-identity;destinationContext=pod-name;"
                + "labelsContext=source_namespace;bogus=1: option \"bogus\" is not one Sluice has; ignored"), metrics.problems());
        try (MetricsServer s = serve(registry)) {
            List<String> lines = scrape(s);
            String pod = server.getPodName();
            assertEquals(List.of(
                    "hubble_http_requests_total{destination=\"" + pod + "\",method=\"POST\",protocol=\"HTTP/2\",reporter=\"client\",source=\"fortio-client\",source_namespace=\"default\"} 1.0",
                    "hubble_http_requests_total{destination=\"" + pod + "\",method=\"POST\",protocol=\"HTTP/2\",reporter=\"client\",source=\"reserved:world\",source_namespace=\"\"} 1.0"),
                    sorted(samples(lines, "hubble_http_requests_total")));
            assertEquals(List.of(
                    "hubble_http_responses_total{destination=\"" + pod + "\",method=\"POST\",reporter=\"client\",source=\"fortio-client\",source_namespace=\"default\",status=\"200\"} 1.0"),
                    samples(lines, "hubble_http_responses_total"));
        }
    }
}
