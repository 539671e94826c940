package dev.sluice.observe.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.observe.Flows;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.HTTP;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.observe.v1.Layer7;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Label;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/grafana/sluice-dashboard.json against the registry an agent serves (FlowMetrics with every family, and
 * AgentMetrics): it parses, every series a panel queries is one the agent exports, every label a query matches or
 * groups by is one of that series' labels, and every exported metric is on some panel.
 */
class GrafanaDashboardTest {
    private static final Path DASHBOARD = Path.of(System.getenv().getOrDefault("SLUICE_ROOT", ".."), "deploy/grafana/sluice-dashboard.json");
    /** Labels Prometheus adds to every scraped series, and the bucket label of histograms. */
    private static final Set<String> TARGET_LABELS = Set.of("instance", "job", "le");
    private static final Pattern SERIES = Pattern.compile("\\b((?:hubble|sluice)_[a-zA-Z0-9_]+)\\s*(\\{([^}]*)})?");
    private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without)\\s*\\(([^)]*)\\)");
    private static final Pattern MATCHER = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)");

    /** Series name -> its label names, as the agent's registry exports them. */
    private static Map<String, Set<String>> exported() {
        PrometheusRegistry registry = new PrometheusRegistry();
        FlowMetrics flows = new FlowMetrics(registry);
        new AgentMetrics(registry, () -> new AgentMetrics.Snapshot(Map.of("sluice_ct4", new AgentMetrics.MapFill(10, 100)),
                Map.of("pod_policy", 2), 3, 10, 4095, Map.of("default/client", new AgentMetrics.MapFill(5, 65_536))));
        Flow request = Flows.forwarded().toBuilder().setEventType("l7").setL7(Layer7.newBuilder().setType(L7FlowType.REQUEST)
                .setHttp(HTTP.newBuilder().setMethod("POST").setProtocol("HTTP/2").setUrl("http://product-service:50051/x"))).build();
        for (Flow f : List.of(Flows.forwarded(), Flows.forwarded().toBuilder().setEventType("policy-verdict").build(), Flows.dropped(),
                Flows.reply(), request, Flows.httpResponse(), Flows.udpToService(), Flows.icmpFromWorld())) {
            flows.record(f);
        }
        Map<String, Set<String>> series = new HashMap<>();
        for (MetricSnapshot m : registry.scrape()) {
            String name = m.getMetadata().getPrometheusName();
            Set<String> labels = new TreeSet<>();
            for (DataPointSnapshot p : m.getDataPoints()) {
                for (Label l : p.getLabels()) {
                    labels.add(l.getName());
                }
            }
            assertFalse(m.getDataPoints().isEmpty(), name + " has samples, so its labels are known");
            List<String> names = switch (m) {
                case CounterSnapshot c -> List.of(name + "_total");
                case HistogramSnapshot h -> List.of(name + "_bucket", name + "_sum", name + "_count");
                default -> List.of(name);
            };
            names.forEach(n -> series.put(n, labels));
        }
        return series;
    }

    private static List<String> expressions(JsonNode panels) {
        List<String> exprs = new ArrayList<>();
        for (JsonNode panel : panels) {
            panel.path("targets").forEach(t -> exprs.add(t.get("expr").asText()));
            exprs.addAll(expressions(panel.path("panels")));
        }
        return exprs;
    }

    @Test
    void everyQueriedSeriesAndLabelIsExportedAndEveryMetricIsShown() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        assertEquals("sluice-agents", dashboard.get("uid").asText());
        List<String> exprs = expressions(dashboard.get("panels"));
        assertTrue(exprs.size() >= 15, "panels with queries: " + exprs);
        Map<String, Set<String>> exported = exported();

        Set<String> queried = new HashSet<>();
        for (String expr : exprs) {
            Set<String> labelsHere = new HashSet<>(TARGET_LABELS);
            Matcher m = SERIES.matcher(expr);
            boolean any = false;
            while (m.find()) {
                any = true;
                String name = m.group(1);
                assertTrue(exported.containsKey(name), "`" + expr + "` queries " + name + ", which the agent does not export; it has "
                        + new TreeSet<>(exported.keySet()));
                queried.add(name);
                Set<String> labels = new HashSet<>(exported.get(name));
                labels.addAll(TARGET_LABELS);
                labelsHere.addAll(labels);
                if (m.group(3) != null) {
                    Matcher matcher = MATCHER.matcher(m.group(3));
                    while (matcher.find()) {
                        assertTrue(labels.contains(matcher.group(1)), "`" + expr + "` matches label " + matcher.group(1)
                                + ", which " + name + " does not have (" + labels + ")");
                    }
                }
            }
            assertTrue(any, "`" + expr + "` queries no Sluice or Hubble metric");
            Matcher by = GROUPING.matcher(expr);
            while (by.find()) {
                for (String label : by.group(1).split(",")) {
                    assertTrue(labelsHere.contains(label.strip()), "`" + expr + "` groups by " + label.strip() + ", which no series in it has");
                }
            }
        }
        // Every metric family on some panel (a histogram counts through any of its series).
        Set<String> families = new TreeSet<>();
        exported.keySet().forEach(n -> families.add(n.replaceAll("_(bucket|sum|count)$", "")));
        for (String family : families) {
            assertTrue(queried.stream().anyMatch(q -> q.equals(family) || q.startsWith(family + "_")),
                    family + " is exported but on no panel of the dashboard");
        }
    }
}
