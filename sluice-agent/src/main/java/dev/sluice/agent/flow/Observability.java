package dev.sluice.agent.flow;

import dev.sluice.agent.api.AgentStatus.Line;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.agent.policy.PolicyAgent;
import dev.sluice.agent.policy.RuleTable;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.model.SluiceValues;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.ObserverServer;
import dev.sluice.observe.metrics.AgentMetrics;
import dev.sluice.observe.metrics.FlowMetrics;
import dev.sluice.observe.metrics.MetricsServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A node's flow observability, as the agent runs it: the pipeline from the datapath's ring buffer to the
 * flow ring, the Observer API on a unix socket, and the Prometheus endpoint. With {@code hubble.enabled:
 * false} only the datapath is told to stay silent.
 */
public final class Observability implements AutoCloseable {
    private final SluiceValues.Hubble hubble;
    private final FlowRing ring;
    private final FlowPipeline pipeline;
    private ObserverServer observer;
    private MetricsServer metricsServer;
    private DnsFeedServer dnsFeed;
    private String dnsFeedProblem;
    private String problem;
    private volatile Health health = new Health(Map.of(), 0, 0, false, 0, Map.of());
    private long lastObserved = -1;
    private int lastRules = -1;
    private long lostTotal;
    private long lastSeen;
    private long lastRateAt = System.nanoTime();
    private double flowsPerSecond;
    private boolean closed;
    private volatile String directoryProblem;
    private List<String> metricProblems = List.of();

    /**
     * What the agent last knew of its datapath, for the health gauges.
     *
     * @param maps entries and capacity of the node's maps, by map name
     */
    public record Health(Map<String, AgentMetrics.MapFill> maps, int policyVeths, int lbVeths, boolean socketLb, int endpoints,
                         Map<String, AgentMetrics.MapFill> endpointConntrack) {
        public Health {
            maps = Map.copyOf(maps);
            endpointConntrack = Map.copyOf(endpointConntrack);
        }
    }

    private Observability(SluiceValues.Hubble hubble, FlowRing ring, FlowPipeline pipeline) {
        this.hubble = hubble;
        this.ring = ring;
        this.pipeline = pipeline;
    }

    /**
     * @param object a loaded object of the node with the flow maps
     * @param metricsPort the Prometheus endpoint's port on 127.0.0.1 of the agent's network namespace
     */
    public static Observability start(SluiceValues.Hubble hubble, String node, BpfObject object, Path socket, int metricsPort) {
        Aggregation level = hubble.enabled() ? Aggregation.valueOf(hubble.monitorAggregation().toUpperCase(Locale.ROOT))
                : Aggregation.DISABLED;
        if (!hubble.enabled()) {
            object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(level));
            return new Observability(hubble, null, null);
        }
        FlowRing ring = FlowRing.of(hubble);
        PrometheusRegistry registry = new PrometheusRegistry();
        FlowMetrics metrics = new FlowMetrics(registry, hubble.metrics());
        Observability self = new Observability(hubble, ring,
                new FlowPipeline(object, level, ring, new FlowEnricher(FlowDirectory.empty(node)), metrics));
        self.metricProblems = metrics.problems();
        new AgentMetrics(registry, self::snapshot);
        self.serve(registry, node, socket, metricsPort);
        return self;
    }

    /** The Observer API and the metrics; either failing leaves the flows collected and counted, and status says why. */
    private synchronized void serve(PrometheusRegistry registry, String node, Path socket, int metricsPort) {
        StringBuilder problems = new StringBuilder();
        try {
            Files.createDirectories(socket.getParent());
            observer = ObserverServer.start(ring, node, socket,
                    hubble.listenPort() == 0 ? OptionalInt.empty() : OptionalInt.of(hubble.listenPort()));
        } catch (Exception e) {
            problems.append("Observer API not served: ").append(e.getMessage()).append("; ");
        }
        try {
            metricsServer = MetricsServer.start(registry, new InetSocketAddress(InetAddress.getLoopbackAddress(), metricsPort));
        } catch (Exception e) {
            problems.append("metrics not served: ").append(e.getMessage()).append("; ");
        }
        problem = problems.isEmpty() ? null : problems.toString();
    }

    /** Called every round: renames the flows' parties when the lab or the rules changed, and collects losses. */
    public void update(ClusterView state, long observed, PolicyAgent.Result policy, List<Frontend> frontends, RuleTable rules,
                       Health health) {
        this.health = health;
        if (pipeline == null) {
            return;
        }
        ObserverServer server;
        synchronized (this) {
            server = observer;
        }
        if (server != null) {
            // Hubble's peer service: every node's Observer API, each agent's socket beside this one's.
            Map<String, String> peers = new java.util.TreeMap<>();
            for (ClusterView.Node n : state.nodes()) {
                peers.put(n.name(), "unix://" + server.socket().toAbsolutePath().resolveSibling(n.name() + ".sock"));
            }
            server.peers().peers(peers);
        }
        int ruleCount = rules.size();
        if (observed != lastObserved || ruleCount != lastRules) {
            try {
                pipeline.enricher().directory(FlowDirectory.of(pipeline.enricher().directory().node(), state, policy.podIdentities(),
                        policy.identityLabels(), frontends, rules));
                directoryProblem = null;
            } catch (RuntimeException e) {
                // Flows keep the names of the last good picture; status says why they may be stale.
                directoryProblem = "flows named from an older picture of the cluster: " + e.getMessage();
            }
            lastObserved = observed;
            lastRules = ruleCount;
        }
        FlowPipeline.Lost lost = pipeline.collectLost();
        lostTotal += lost.kernel() + lost.queue();
        long now = System.nanoTime();
        if (now - lastRateAt >= 1_000_000_000L) {
            long seen = ring.counters().seenFlows();
            flowsPerSecond = (seen - lastSeen) * 1e9 / (now - lastRateAt);
            lastSeen = seen;
            lastRateAt = now;
        }
    }

    /**
     * The node proxy's record of one request, as its two L7 flows (request and response), into the same ring and
     * metrics as the datapath's flows, named from the same directory. Called from the proxy's access-log thread.
     */
    public void l7(dev.sluice.proxy.AccessRecord record) {
        if (pipeline == null) {
            return;
        }
        L7Flows.of(record, pipeline.enricher().directory()).forEach(pipeline::add);
    }

    /**
     * Takes the cluster DNS server's reports of this node's pods' queries on {@code socket}, as DNS flows. Failing to
     * listen leaves every other flow as it was, and status says so.
     */
    public synchronized void serveDnsFeed(Path socket) {
        if (pipeline == null || dnsFeed != null) {
            return;
        }
        try {
            dnsFeed = DnsFeedServer.start(socket, this::dns);
        } catch (Exception e) {
            dnsFeedProblem = "DNS flows not collected: cannot listen on " + socket + ": " + e.getMessage();
        }
    }

    /**
     * The cluster DNS server's report of one query of a pod of this node, as its two L7 DNS flows (query and answer),
     * into the same ring and metrics as every other flow. Called from the DNS feed's reader threads.
     */
    public void dns(dev.sluice.agent.api.DnsExchange exchange) {
        if (pipeline == null) {
            return;
        }
        DnsFlows.of(exchange, pipeline.enricher().directory()).forEach(pipeline::add);
    }

    /** Whether flows are collected (hubble.enabled); without, the proxy need not report its requests. */
    public boolean collecting() {
        return pipeline != null;
    }

    /** Cilium's status line: {@code Hubble: Ok  Current/Max Flows: 4095/4095 (100.00%), Flows/s: 52.31}, and more. */
    public synchronized Line statusLine() {
        if (pipeline == null) {
            return new Line("Hubble", "Disabled (hubble.enabled: false): the datapath sends no flow events");
        }
        FlowRing.Counters c = ring.counters();
        return new Line("Hubble", (problem == null && dnsFeedProblem == null ? "Ok" : "Degraded") + "  Current/Max Flows: " + c.numFlows() + "/" + c.maxFlows()
                + String.format(Locale.ROOT, " (%.2f%%), Flows/s: %.2f", 100.0 * c.numFlows() / c.maxFlows(), flowsPerSecond)
                + ", lost events: " + lostTotal + " (datapath ring full or reader behind), aggregation "
                + hubble.monitorAggregation() + ", ring buffer " + hubble.eventsRingBytes() / 1024 + " KiB"
                + (observer == null ? "" : "; Observer API on unix://" + observer.socket()
                        + observer.tcpPort().stream().mapToObj(p -> " and 127.0.0.1:" + p).findFirst().orElse(""))
                + (metricsServer == null ? "" : "; metrics on 127.0.0.1:" + metricsServer.port())
                + (dnsFeed == null ? "" : "; DNS flows from unix://" + dnsFeed.socket() + " (" + dnsFeed.exchanges() + " queries"
                        + (dnsFeed.badLines() == 0 ? "" : ", " + dnsFeed.badLines() + " bad lines, last: " + dnsFeed.lastProblem()) + ")")
                + (dnsFeedProblem == null ? "" : "; " + dnsFeedProblem)
                + (problem == null ? "" : "; " + problem)
                + (directoryProblem == null ? "" : "; " + directoryProblem)
                + (metricProblems.isEmpty() ? "" : "; hubble.metrics.enabled: " + String.join("; ", metricProblems)));
    }

    private AgentMetrics.Snapshot snapshot() {
        Health h = health;
        FlowRing.Counters c = ring.counters();
        Map<String, Integer> programs = new java.util.LinkedHashMap<>();
        programs.put("pod_policy", 2 * h.policyVeths());
        programs.put("pod_veth", 2 * h.lbVeths());
        programs.put("sock_lb", h.socketLb() ? 1 : 0);
        return new AgentMetrics.Snapshot(h.maps(), programs, h.endpoints(), c.numFlows(), c.maxFlows(), h.endpointConntrack());
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (observer != null) {
            observer.close();
        }
        if (metricsServer != null) {
            metricsServer.close();
        }
        if (dnsFeed != null) {
            dnsFeed.close();
        }
        if (pipeline != null) {
            pipeline.close();
        }
    }
}
