package dev.sluice.observe.metrics;

import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricFamilyDescriptor;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The agent's health as gauges, read at scrape time from a snapshot the agent supplies, under Cilium's names
 * with the {@code sluice_} prefix:
 *
 * <ul>
 *   <li>{@code sluice_bpf_map_pressure{map_name}}: how full each BPF map is, entries over max entries (0 to 1).</li>
 *   <li>{@code sluice_bpf_map_entries{map_name}}: entries in each BPF map.</li>
 *   <li>{@code sluice_bpf_programs_attached{program}}: attachments of each BPF program.</li>
 *   <li>{@code sluice_endpoints}: endpoints the agent manages.</li>
 *   <li>{@code sluice_hubble_flows_in_ring} and {@code sluice_hubble_flow_ring_capacity}: the flow ring's fill.</li>
 *   <li>{@code sluice_conntrack_endpoint_pressure{endpoint}} and {@code sluice_conntrack_endpoint_entries{endpoint}}: for
 *   each endpoint holding established conntrack entries, its entries over its limit (1: at the limit, its new
 *   answered flows stay in the new-flow table) and the entries (Sluice's own; Cilium has no per-endpoint bound).</li>
 * </ul>
 *
 * The supplier is called once per scrape, for all of these gauges together, so that they describe one moment;
 * nothing is kept between scrapes.
 */
public final class AgentMetrics {
    /** What the agent reports at one moment. */
    public record Snapshot(Map<String, MapFill> maps, Map<String, Integer> programsAttached, int endpoints,
                           long flowsInRing, long flowRingCapacity, Map<String, MapFill> endpointConntrack) {
        public Snapshot {
            // Copied so that the agent may go on changing its own maps while a scrape reads this one.
            maps = Map.copyOf(maps);
            programsAttached = Map.copyOf(programsAttached);
            endpointConntrack = Map.copyOf(endpointConntrack);
        }

        /** A snapshot without per-endpoint conntrack. */
        public Snapshot(Map<String, MapFill> maps, Map<String, Integer> programsAttached, int endpoints, long flowsInRing,
                        long flowRingCapacity) {
            this(maps, programsAttached, endpoints, flowsInRing, flowRingCapacity, Map.of());
        }
    }

    /** A BPF map's fill: entries in use and the most it holds. */
    public record MapFill(long entries, long maxEntries) {
        public MapFill {
            if (entries < 0 || maxEntries < 0) {
                throw new IllegalArgumentException("entries and max entries cannot be negative: " + entries + "/" + maxEntries);
            }
        }

        /** Entries over max entries; 0 for a map without a limit, which cannot fill up. */
        public double pressure() {
            return maxEntries == 0 ? 0 : (double) entries / maxEntries;
        }
    }

    // The snapshot of the scrape in progress on this thread, so that every gauge's callback reads the same one.
    private static final ScopedValue<Snapshot> SCRAPED = ScopedValue.newInstance();

    public AgentMetrics(PrometheusRegistry registry, Supplier<Snapshot> snapshot) {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(snapshot, "snapshot");
        List<GaugeWithCallback> gauges = List.of(
                gauge("sluice_bpf_map_pressure", "Fill of each BPF map: entries over max entries",
                        s -> s.maps().forEach((name, fill) -> s.call(fill.pressure(), name)), "map_name"),
                gauge("sluice_bpf_map_entries", "Entries in each BPF map",
                        s -> s.maps().forEach((name, fill) -> s.call(fill.entries(), name)), "map_name"),
                gauge("sluice_bpf_programs_attached", "Attachments of each BPF program",
                        s -> s.programsAttached().forEach((program, count) -> s.call(count, program)), "program"),
                gauge("sluice_endpoints", "Endpoints the agent manages", s -> s.call(s.snapshot().endpoints())),
                gauge("sluice_hubble_flows_in_ring", "Flows in the flow ring", s -> s.call(s.snapshot().flowsInRing())),
                gauge("sluice_hubble_flow_ring_capacity", "Flows the flow ring holds at most",
                        s -> s.call(s.snapshot().flowRingCapacity())),
                gauge("sluice_conntrack_endpoint_pressure", "Established conntrack entries of each endpoint over its limit",
                        s -> s.snapshot().endpointConntrack().forEach((ep, fill) -> s.call(fill.pressure(), ep)), "endpoint"),
                gauge("sluice_conntrack_endpoint_entries", "Established conntrack entries of each endpoint",
                        s -> s.snapshot().endpointConntrack().forEach((ep, fill) -> s.call(fill.entries(), ep)), "endpoint"));
        registry.register(new OneSnapshotPerScrape(snapshot, gauges));
    }

    /** A gauge callback's view: the scrape's snapshot, and where to put samples. */
    private record Scrape(Snapshot snapshot, GaugeWithCallback.Callback callback) {
        Map<String, MapFill> maps() {
            return snapshot.maps();
        }

        Map<String, Integer> programsAttached() {
            return snapshot.programsAttached();
        }

        void call(double value, String... labelValues) {
            callback.call(value, labelValues);
        }
    }

    private static GaugeWithCallback gauge(String name, String help, Consumer<Scrape> samples, String... labelNames) {
        return GaugeWithCallback.builder().name(name).help(help).labelNames(labelNames)
                .callback(callback -> samples.accept(new Scrape(SCRAPED.get(), callback))).build();
    }

    /**
     * Collects the gauges together: one call to the supplier, bound for the duration of their callbacks. The
     * gauges are not registered on their own, as each would then call the supplier itself.
     */
    private record OneSnapshotPerScrape(Supplier<Snapshot> supplier, List<GaugeWithCallback> gauges) implements MultiCollector {
        @Override
        public MetricSnapshots collect() {
            Snapshot snapshot = Objects.requireNonNull(supplier.get(), "the agent's snapshot supplier returned null");
            return ScopedValue.where(SCRAPED, snapshot).call(() -> {
                MetricSnapshots.Builder snapshots = MetricSnapshots.builder();
                for (GaugeWithCallback gauge : gauges) {
                    MetricSnapshot collected = gauge.collect();
                    snapshots.metricSnapshot(collected);
                }
                return snapshots.build();
            });
        }

        @Override
        public List<MetricFamilyDescriptor> getMetricFamilyDescriptors() {
            // Lets the registry refuse a clashing name at registration, and skip this collector (and the
            // supplier) when a scrape's name filter excludes all of its gauges.
            return gauges.stream().map(GaugeWithCallback::getMetricFamilyDescriptor).toList();
        }
    }
}
