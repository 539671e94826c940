package dev.sluice.observe.metrics;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.sluice.observe.metrics.Scrapes.samples;
import static dev.sluice.observe.metrics.Scrapes.scrape;
import static dev.sluice.observe.metrics.Scrapes.serve;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AgentMetricsTest {
    @Test
    void gaugesReadTheSnapshotOfEachScrape() throws Exception {
        AtomicReference<AgentMetrics.Snapshot> current = new AtomicReference<>(new AgentMetrics.Snapshot(
                Map.of("sluice_ct4", new AgentMetrics.MapFill(16_384, 65_536), "sluice_lb4_backends", new AgentMetrics.MapFill(3, 4)),
                Map.of("pod_policy", 4, "sock_connect4", 1), 3, 17, 4095));
        AtomicInteger reads = new AtomicInteger();
        PrometheusRegistry registry = new PrometheusRegistry();
        new AgentMetrics(registry, () -> {
            reads.incrementAndGet();
            return current.get();
        });
        assertEquals(0, reads.get(), "nothing is read before a scrape");

        try (MetricsServer server = serve(registry)) {
            List<String> first = scrape(server);
            assertEquals(1, reads.get(), "one read per scrape, for all the gauges");
            assertEquals(List.of(
                    "sluice_bpf_map_pressure{map_name=\"sluice_ct4\"} 0.25",
                    "sluice_bpf_map_pressure{map_name=\"sluice_lb4_backends\"} 0.75"),
                    sorted(samples(first, "sluice_bpf_map_pressure")));
            assertEquals(List.of(
                    "sluice_bpf_map_entries{map_name=\"sluice_ct4\"} 16384.0",
                    "sluice_bpf_map_entries{map_name=\"sluice_lb4_backends\"} 3.0"),
                    sorted(samples(first, "sluice_bpf_map_entries")));
            assertEquals(List.of(
                    "sluice_bpf_programs_attached{program=\"pod_policy\"} 4.0",
                    "sluice_bpf_programs_attached{program=\"sock_connect4\"} 1.0"),
                    sorted(samples(first, "sluice_bpf_programs_attached")));
            assertEquals(List.of("sluice_endpoints 3.0"), samples(first, "sluice_endpoints"));
            assertEquals(List.of("sluice_hubble_flows_in_ring 17.0"), samples(first, "sluice_hubble_flows_in_ring"));
            assertEquals(List.of("sluice_hubble_flow_ring_capacity 4095.0"), samples(first, "sluice_hubble_flow_ring_capacity"));
            assertEquals(List.of("# TYPE sluice_endpoints gauge"), first.stream().filter(l -> l.equals("# TYPE sluice_endpoints gauge")).toList());

            // The LB map fills up, the CT map goes away, a program detaches, an endpoint comes, the ring wraps.
            current.set(new AgentMetrics.Snapshot(Map.of("sluice_lb4_backends", new AgentMetrics.MapFill(4, 4)),
                    Map.of("pod_policy", 6), 4, 4095, 4095));
            List<String> second = scrape(server);
            assertEquals(2, reads.get());
            assertEquals(List.of("sluice_bpf_map_pressure{map_name=\"sluice_lb4_backends\"} 1.0"),
                    samples(second, "sluice_bpf_map_pressure"));
            assertEquals(List.of("sluice_bpf_map_entries{map_name=\"sluice_lb4_backends\"} 4.0"),
                    samples(second, "sluice_bpf_map_entries"));
            assertEquals(List.of("sluice_bpf_programs_attached{program=\"pod_policy\"} 6.0"),
                    samples(second, "sluice_bpf_programs_attached"));
            assertEquals(List.of("sluice_endpoints 4.0"), samples(second, "sluice_endpoints"));
            assertEquals(List.of("sluice_hubble_flows_in_ring 4095.0"), samples(second, "sluice_hubble_flows_in_ring"));
            assertEquals(List.of("sluice_hubble_flow_ring_capacity 4095.0"), samples(second, "sluice_hubble_flow_ring_capacity"));
        }
    }

    @Test
    void sharesARegistryWithFlowMetrics() throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        new FlowMetrics(registry);
        new AgentMetrics(registry, () -> new AgentMetrics.Snapshot(Map.of(), Map.of(), 0, 0, 4095));
        try (MetricsServer server = serve(registry)) {
            List<String> lines = scrape(server);
            assertEquals(List.of("sluice_hubble_flow_ring_capacity 4095.0"), samples(lines, "sluice_hubble_flow_ring_capacity"));
            assertEquals(List.of(), samples(lines, "sluice_bpf_map_pressure"));
            assertEquals(3, samples(lines, "hubble_lost_events_total").size());
        }
        assertThrows(IllegalArgumentException.class,
                () -> new AgentMetrics(registry, () -> null), "the names are taken");
    }

    @Test
    void mapFillRejectsNegativesAndToleratesNoLimit() {
        assertThrows(IllegalArgumentException.class, () -> new AgentMetrics.MapFill(-1, 10));
        assertEquals(0.0, new AgentMetrics.MapFill(5, 0).pressure());
    }

    private static List<String> sorted(List<String> lines) {
        return lines.stream().sorted().toList();
    }
}
