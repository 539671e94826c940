package dev.sluice.agent;

import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.agent.api.NodeLayout;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.agent.core.Agent;
import dev.sluice.agent.core.Subsystem;
import dev.sluice.agent.flow.FlowPipeline;
import dev.sluice.agent.flow.FlowSubsystem;
import dev.sluice.agent.flow.Observability;
import dev.sluice.agent.lb.LbDatapath;
import dev.sluice.agent.lb.LbSubsystem;
import dev.sluice.agent.policy.IdentityStore;
import dev.sluice.agent.policy.PolicyAgent;
import dev.sluice.agent.policy.PolicyDatapath;
import dev.sluice.agent.policy.PolicySubsystem;
import dev.sluice.agent.bypass.BypassSubsystem;
import dev.sluice.agent.prefilter.PrefilterSubsystem;
import dev.sluice.model.SluiceValues;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The Sluice agent of one node: wiring only. It opens the node's cluster source, makes the subsystems the
 * values file asks for, and runs the {@link Agent} loop, which hands them every change; it runs in the
 * node's network namespace and publishes status to the node's {@link NodeLayout#statusFile()}.
 *
 * <p>Usage: {@code AgentMain --source lab|kubernetes --cluster NAME --node NODE --state-dir DIR --cgroup PATH [--values FILE]};
 * without {@code --node}, the node is {@code NODE_NAME} (as a DaemonSet's pod gets it from the downward API).
 */
public final class AgentMain {
    private static final String USAGE = "usage: AgentMain --source lab|kubernetes --cluster NAME --node NODE --state-dir DIR --cgroup PATH [--values FILE]";

    private AgentMain() {
    }

    public static void main(String[] args) throws Exception {
        String sourceName = argument(args, "--source", null);
        String cluster = argument(args, "--cluster", null);
        String node = argument(args, "--node", System.getenv("NODE_NAME") == null || System.getenv("NODE_NAME").isBlank() ? null : System.getenv("NODE_NAME"));
        NodeLayout layout = new ClusterLayout(cluster, Path.of(argument(args, "--state-dir", null))).node(node);
        Path cgroup = Path.of(argument(args, "--cgroup", null));
        String valuesFile = argument(args, "--values", "");
        SluiceValues values = valuesFile.isEmpty() ? SluiceValues.defaults() : SluiceValues.load(Path.of(valuesFile));
        long started = System.currentTimeMillis();
        System.out.println("agent: node " + node + " of " + sourceName + " cluster " + cluster + " started (pid "
                + ProcessHandle.current().pid() + ")");
        values.warnings().forEach(w -> System.out.println("agent: values: " + w));

        // The CNI plugin's endpoints join the source's view (docs/kubernetes.md): after it, one code path.
        try (dev.sluice.agent.cni.CniAgent cni = dev.sluice.agent.cni.CniAgent.start(ClusterSource.open(sourceName, cluster, node), node,
                layout.cniSocket(), layout.ipamState());
             ClusterSource source = cni.source()) {
            List<Subsystem> subsystems = new ArrayList<>(subsystems(layout, cgroup, values, sourceName, source::annotateNode));
            subsystems.addFirst(cni.subsystem());
            Runtime.getRuntime().addShutdownHook(new Thread(() -> subsystems.getLast().close()));
            PolicySubsystem policy = subsystems.stream().filter(PolicySubsystem.class::isInstance).map(PolicySubsystem.class::cast)
                    .findFirst().orElseThrow();
            StatusPublisher publisher = new StatusPublisher(layout, node, values, started, () -> policy.agent().rules().all(), source);
            new Agent(new PinSweeper(source, layout), subsystems, report -> {
                publisher.publish(report);
                cni.applied(report.change());
            }).run();
        } catch (ClusterSource.Gone gone) {
            System.out.println("agent: " + gone.getMessage() + "; stopping");
        }
    }

    /** The subsystems the values ask for, in the order they see each change: LB, policy, then flows (which name what the others did). */
    static List<Subsystem> subsystems(NodeLayout layout, Path cgroup, SluiceValues values) {
        return subsystems(layout, cgroup, values, "lab");
    }

    /** @param sourceName the cluster source: its identity store, if it registers one (Kubernetes: CiliumIdentity objects), else the lab's file */
    static List<Subsystem> subsystems(NodeLayout layout, Path cgroup, SluiceValues values, String sourceName) {
        return subsystems(layout, cgroup, values, sourceName, (key, value) -> {
            throw new UnsupportedOperationException("no cluster source to publish " + key + " through");
        });
    }

    /** @param publisher publishes this node's annotations through the cluster source (the WireGuard public key) */
    static List<Subsystem> subsystems(NodeLayout layout, Path cgroup, SluiceValues values, String sourceName,
                                      dev.sluice.agent.encryption.EncryptionSubsystem.Publisher publisher) {
        int ringBytes = values.hubble().eventsRingBytes();
        if (FlowPipeline.resizePinnedRing(layout.maps(), ringBytes)) {
            System.out.println("agent: the flow-event ring buffer is now " + ringBytes + " bytes (bpf.eventsRingBytes)");
        }
        List<Subsystem> subsystems = new ArrayList<>();
        // First: routes to the other nodes' pods (native or through the VXLAN tunnel), before anything sends there.
        var routing = new dev.sluice.agent.routing.RoutingSubsystem(layout.node(), values.routing());
        System.out.println("agent: routing between nodes " + values.routing().describe());
        subsystems.add(routing);
        LbSubsystem lb = null;
        dev.sluice.agent.l7.L7Subsystem l7 = null;
        if (values.serviceMesh() && values.kubeProxyReplacement() != SluiceValues.KubeProxyReplacement.DISABLED) {
            // Before load balancing, which sends the Service ports it names to the proxy.
            l7 = new dev.sluice.agent.l7.L7Subsystem(layout);
            subsystems.add(l7);
        }
        if (values.kubeProxyReplacement() != SluiceValues.KubeProxyReplacement.DISABLED) {
            LbDatapath datapath = new LbDatapath(layout.pinDir(), cgroup, values.socketLb(), values.maglevTableSize(), ringBytes);
            System.out.println("agent: load balancing on (socket LB " + (values.socketLb() ? "on" : "off") + "), adopted "
                    + datapath.adoptedIds().frontends().size() + " frontend(s) and " + datapath.adoptedLinks() + " link(s) from pinned state");
            lb = new LbSubsystem(layout.node(), datapath, cgroup.toString(), values.maglevTableSize());
            if (l7 != null) {
                lb.redirectsFrom(l7::redirects);
            }
            subsystems.add(lb);
        }
        // Network policy is always on: with no policy selecting an endpoint, everything passes, as in Cilium.
        PolicyDatapath policyDatapath = new PolicyDatapath(layout.pinDir(), ringBytes);
        dev.sluice.agent.api.Identities.Store identities = dev.sluice.agent.api.Identities.provided(sourceName, layout)
                .orElseGet(() -> new IdentityStore(layout.cluster().identities()));
        PolicyAgent policyAgent = new PolicyAgent(layout.node(), identities, policyDatapath);
        PolicySubsystem policy = new PolicySubsystem(layout.node(), policyAgent, policyDatapath);
        if (l7 != null) {
            // The proxy stands between client and backend: it asks policy, by identity, what the datapath would
            // have decided on a direct connection.
            l7.admission(new dev.sluice.agent.l7.PolicyAdmission(policyAgent), policyAgent::revision);
            // The proxy caches admission answers per policy revision; each new one empties its cache.
            policyAgent.onRevision(l7::policyRevision);
            policy.proxiedFrom(l7::targets);
            // Identity-preserving forwarding: the proxy connects from its clients' addresses, so the backends'
            // datapaths judge the clients' identities; without the node's reply routing it connects from the node.
            var unavailable = dev.sluice.agent.l7.ProxyReplyRouting.install(policyDatapath, PrefilterSubsystem.UPLINK);
            policyAgent.clientSourceForwarding(unavailable.isEmpty());
            if (unavailable.isEmpty()) {
                routing.onTunnelDevice(policyDatapath::attachTunnel); // other nodes' replies arrive on it in tunnel mode
            }
            l7.forwarding(unavailable);
            System.out.println("agent: L7 proxy " + unavailable.orElse("forwards from its clients' addresses (IP_TRANSPARENT; replies marked "
                    + dev.sluice.agent.l7.ProxyReplyRouting.MARK + ", table " + dev.sluice.agent.l7.ProxyReplyRouting.TABLE + ")"));
        }
        subsystems.add(policy);
        // After policy, whose conntrack the bypass reads (its maps are pinned by then).
        BypassSubsystem bypass = values.sockops() ? BypassSubsystem.start(layout.pinDir(), cgroup, ringBytes)
                : BypassSubsystem.disabled(layout.pinDir(), "sockops.enabled is false in the values file");
        System.out.println("agent: socket bypass " + bypass.status().getFirst().value());
        subsystems.add(bypass);
        if (values.prefilter().enabled()) {
            PrefilterSubsystem prefilter = new PrefilterSubsystem(layout.pinDir(), PrefilterSubsystem.UPLINK, values.prefilter(), ringBytes);
            System.out.println("agent: prefilter on (" + prefilter.mode() + " XDP on " + PrefilterSubsystem.UPLINK + "), "
                    + prefilter.adoptedCidrs() + " CIDR(s) adopted from the pinned map");
            subsystems.add(prefilter);
        } else if (PrefilterSubsystem.detachPinned(layout.pinDir())) {
            System.out.println("agent: prefilter off (prefilter.enabled: false): detached from " + PrefilterSubsystem.UPLINK);
        }
        encryption(layout, values, publisher).ifPresent(subsystems::add);
        Observability observability = Observability.start(values.hubble(), layout.node(), policyDatapath.object(),
                layout.observerSocket(), ClusterLayout.METRICS_PORT);
        if (l7 != null && observability.collecting()) {
            l7.accessLog(observability::l7); // every request through the node proxy becomes an L7 flow
        }
        observability.serveDnsFeed(layout.dnsFeedSocket()); // every query the cluster DNS answers a pod here becomes a DNS flow
        subsystems.add(new FlowSubsystem(observability, values.hubble(), policy, lb));
        return subsystems;
    }

    /** WireGuard between nodes when the values ask for it; leftovers of an earlier run removed when they do not. */
    private static java.util.Optional<Subsystem> encryption(NodeLayout layout, SluiceValues values,
                                                           dev.sluice.agent.encryption.EncryptionSubsystem.Publisher publisher) {
        SluiceValues.Encryption e = values.encryption();
        if (e.enabled() && e.type() == SluiceValues.Encryption.Type.WIREGUARD) {
            System.out.println("agent: WireGuard encryption on (" + dev.sluice.agent.api.wireguard.WireGuardNames.DEVICE
                    + (e.strictMode() ? ", strict mode" : "") + ")");
            return java.util.Optional.of(new dev.sluice.agent.encryption.EncryptionSubsystem(layout, e.strictMode(), publisher));
        }
        dev.sluice.agent.encryption.EncryptionSubsystem.removeLeftovers(layout);
        return java.util.Optional.empty();
    }

    /**
     * Before the first change reaches the subsystems: drops the pins of per-veth links whose veth went away
     * while no agent ran, so that the subsystems adopt only live links.
     */
    private record PinSweeper(ClusterSource source, NodeLayout layout, boolean[] swept) implements ClusterSource {
        PinSweeper(ClusterSource source, NodeLayout layout) {
            this(source, layout, new boolean[1]);
        }

        @Override
        public java.util.Optional<ClusterChange> next(long timeoutMs) throws InterruptedException {
            var change = source.next(timeoutMs);
            if (change.isPresent() && !swept[0]) {
                swept[0] = true;
                Set<String> veths = change.get().view().podsOn(layout.node()).stream().map(ClusterView.Pod::hostInterface)
                        .collect(Collectors.toSet());
                int dropped = LinkPins.dropStale(layout.links(), veths);
                if (dropped > 0) {
                    System.out.println("agent: dropped " + dropped + " pinned link(s) of pod veths that are gone");
                }
            }
            return change;
        }

        @Override
        public void close() {
            source.close();
        }
    }

    /** Writes the agent's report as the node's status file (atomically), after each change and heartbeat. */
    private static final class StatusPublisher {
        private final NodeLayout layout;
        private final String node;
        private final SluiceValues values;
        private final long started;
        private final java.util.function.Supplier<Map<Integer, ?>> rules;
        private List<AgentStatus.Endpoint> lastEndpoints;
        private final ClusterSource source;

        StatusPublisher(NodeLayout layout, String node, SluiceValues values, long started,
                        java.util.function.Supplier<Map<Integer, ?>> rules, ClusterSource source) {
            this.source = source;
            this.rules = rules;
            this.layout = layout;
            this.node = node;
            this.values = values;
            this.started = started;
        }

        void publish(Agent.Report report) {
            if (report.change() == null) {
                return;
            }
            ClusterView view = report.change().view();
            List<AgentStatus.Endpoint> endpoints = NodeStatusCompiler.endpoints(view, node);
            if (!endpoints.equals(lastEndpoints)) {
                System.out.println("agent: " + endpoints.size() + " endpoint(s): "
                        + endpoints.stream().map(e -> e.namespace() + "/" + e.pod() + "=" + e.ip()).toList());
                lastEndpoints = endpoints;
            }
            ClusterView.Node self = view.node(node).orElse(new ClusterView.Node(node, "", "unknown", ""));
            List<AgentStatus.Line> datapath = new ArrayList<>(report.lines());
            datapath.add(new AgentStatus.Line("Control plane", report.latency().describe()));
            // The source's own health: a Kubernetes API server out of reach leaves the last view in force.
            source.degraded().ifPresent(why -> datapath.add(new AgentStatus.Line("Cluster source", "Degraded: " + why)));
            Set<String> provided = new HashSet<>(report.features());
            Map<Integer, String> rules = this.rules.get().entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> String.valueOf(e.getValue())));
            AgentStatus status = new AgentStatus(node, ProcessHandle.current().pid(), started, System.currentTimeMillis(),
                    report.change().version(), endpoints, NodeStatusCompiler.lines(self, endpoints, values, provided, datapath),
                    values.warnings(), rules, report.failures(), report.latency().snapshot());
            try {
                StatusFile.write(layout.statusFile(), status);
            } catch (IOException e) {
                System.out.println("agent: cannot write status: " + e.getMessage());
            }
        }
    }

    private static String argument(String[] args, String name, String fallback) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        if (fallback == null) {
            throw new IllegalArgumentException("missing " + name + " (" + USAGE + ")");
        }
        return fallback;
    }
}
