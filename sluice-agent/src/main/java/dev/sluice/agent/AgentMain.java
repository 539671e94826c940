package dev.sluice.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.sluice.agent.AgentStatus.Line;
import dev.sluice.agent.flow.FlowPipeline;
import dev.sluice.agent.flow.Observability;
import dev.sluice.agent.lb.Frontend;
import dev.sluice.agent.lb.LbDatapath;
import dev.sluice.agent.lb.ServiceCompiler;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabStore;
import dev.sluice.model.SluiceValues;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The Sluice agent of one lab node. It runs in the node's network namespace, follows the lab's state,
 * programs the node's datapath (Service load balancing) and reports status.
 *
 * <p>Usage: {@code AgentMain --lab NAME --node NODE}
 */
public final class AgentMain {
    /** How often an idle agent writes its status, as a heartbeat. */
    private static final long HEARTBEAT_MS = 2_000;
    /** How soon an agent looks again at a pod whose veth it could not find yet. */
    private static final long RETRY_MS = 100;
    private static final long CT_COLLECTION_INTERVAL_MS = 5_000;
    private static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules().enable(SerializationFeature.INDENT_OUTPUT);

    private AgentMain() {
    }

    /** The port of each agent's Prometheus endpoint, on 127.0.0.1 of its node: Hubble's metrics port. */
    public static final int METRICS_PORT = 9965;

    /** Where a lab node's agent serves the Observer API: a unix socket in the lab's state directory. */
    public static Path observerSocket(LabStore store, String node) {
        return store.dir().resolve("hubble").resolve(node + ".sock");
    }

    /** Where a lab node's datapath pins its maps and links. */
    public static Path pinDir(String lab, String node) {
        return dev.sluice.lab.Lab.pinRoot(lab).resolve(node);
    }

    public static void main(String[] args) throws Exception {
        String lab = argument(args, "--lab");
        String node = argument(args, "--node");
        LabStore store = LabStore.of(lab);
        long started = System.currentTimeMillis();
        LabState first = store.read().orElseThrow(() -> new IllegalStateException("no lab '" + lab + "'"));
        SluiceValues values = first.valuesFile() == null ? SluiceValues.defaults() : SluiceValues.load(Path.of(first.valuesFile()));
        System.out.println("agent: node " + node + " of lab " + lab + " started (pid " + ProcessHandle.current().pid() + ")");
        values.warnings().forEach(w -> System.out.println("agent: values: " + w));

        int ringBytes = values.hubble().eventsRingBytes();
        if (FlowPipeline.resizePinnedRing(pinDir(lab, node).resolve("maps"), ringBytes)) {
            System.out.println("agent: the flow-event ring buffer is now " + ringBytes + " bytes (bpf.eventsRingBytes)");
        }
        LbDatapath lb = null;
        ServiceCompiler compiler = null;
        if (values.kubeProxyReplacement() != SluiceValues.KubeProxyReplacement.DISABLED) {
            var nodeState = first.node(node).orElseThrow();
            lb = new LbDatapath(pinDir(lab, node), Path.of(nodeState.cgroup()), values.socketLb(), values.maglevTableSize(), ringBytes);
            compiler = new ServiceCompiler(lb.adoptedIds().frontends(), lb.adoptedIds().backends());
            System.out.println("agent: load balancing on (socket LB " + (values.socketLb() ? "on" : "off") + "), adopted "
                    + lb.adoptedIds().frontends().size() + " frontend(s) and " + lb.adoptedLinks() + " link(s) from pinned state");
        }
        // Network policy is always on: with no policy selecting an endpoint, everything passes, as in Cilium.
        var policyDatapath = new dev.sluice.agent.policy.PolicyDatapath(pinDir(lab, node), ringBytes);
        var policy = new dev.sluice.agent.policy.PolicyAgent(node,
                new dev.sluice.agent.policy.IdentityStore(store.dir().resolve("identities.json")), policyDatapath);
        Observability observability = Observability.start(values.hubble(), node, policyDatapath.object(), observerSocket(store, node),
                METRICS_PORT);
        Runtime.getRuntime().addShutdownHook(new Thread(observability::close));
        Path stateFile = store.dir().resolve("state.json");
        try (StateWatcher watcher = new StateWatcher(stateFile)) {
            Round round = null;
            LabState cached = null;
            long lastObserved = Long.MIN_VALUE;
            long nextCollection = 0;
            var conntrack = new dev.sluice.agent.policy.PolicyDatapath.Conntrack(0, 0);
            long collectedTotal = 0;
            boolean firstRound = true;
            boolean retry = false;
            List<AgentStatus.Endpoint> lastEndpoints = null;
            List<String> lastPolicyErrors = List.of();
            while (true) {
                // Work only when the state changed (or a pod's veth was not there yet): an idle agent
                // sleeps in the watcher and wakes once a second to write its heartbeat.
                long observed = Files.exists(stateFile) ? Files.getLastModifiedTime(stateFile).toMillis() : 0;
                boolean changed = observed != lastObserved || retry;
                if (changed || cached == null) {
                    Optional<LabState> state = store.read();
                    if (state.isEmpty()) {
                        System.out.println("agent: lab " + lab + " is gone; stopping");
                        observability.close();
                        return;
                    }
                    cached = state.get();
                }
                LabState current = cached;
                var nodeState = current.node(node).orElseThrow(() -> new IllegalStateException("no node " + node));
                List<AgentStatus.Endpoint> endpoints = NodeStatusCompiler.endpoints(current, node);
                if (!endpoints.equals(lastEndpoints)) {
                    System.out.println("agent: " + endpoints.size() + " endpoint(s): "
                            + endpoints.stream().map(e -> e.namespace() + "/" + e.pod() + "=" + e.ip()).toList());
                    lastEndpoints = endpoints;
                }
                if (changed) {
                    if (firstRound) {
                        Set<String> liveVeths = localVeths(current, node);
                        int dropped = LinkPins.dropStale(pinDir(lab, node).resolve("links"), liveVeths);
                        if (dropped > 0) {
                            System.out.println("agent: dropped " + dropped + " pinned link(s) of pod veths that are gone");
                        }
                        firstRound = false;
                    }
                    Round r = new Round();
                    round = r;
                    List<Frontend> frontends = List.of();
                    if (lb != null) {
                        try {
                            frontends = compiler.compile(current.desired().services(), current.clusterIps(), LabEndpoints.of(current));
                            int programmed = lb.syncServices(frontends);
                            if (programmed > 0) {
                                System.out.println("agent: programmed " + programmed + " frontend(s): " + frontends.stream()
                                        .map(f -> f.key() + "->" + f.backends().size()).collect(Collectors.joining(", ")));
                            }
                            lb.syncVeths(localVeths(current, node));
                            round.lines.addAll(lbLines(lb, frontends, nodeState.cgroup(), values.maglevTableSize()));
                        } catch (RuntimeException e) {
                            // The maps keep what they had: traffic keeps its Services; the next change tries again.
                            round.fail("Services", e);
                        }
                        round.provided.add("KubeProxyReplacement");
                        if (values.socketLb()) {
                            round.provided.add("SocketLB");
                        }
                    }
                    try {
                        var policyResult = policy.sync(current, p -> LabEndpoints.ports(current, p));
                        if (!policyResult.errors().equals(lastPolicyErrors)) {
                            policyResult.errors().forEach(e -> System.out.println("agent: policy rejected: " + e));
                            lastPolicyErrors = policyResult.errors();
                        }
                        round.policy = policyResult;
                        round.lines.add(new Line("Policy", policyResult.policies() + " policies in force, enforced on " + policyResult.enforcing()
                                + " of " + policyResult.endpoints() + " local endpoint(s), " + policyResult.entries() + " map entries, "
                                + policyResult.identities() + " identities; tcx on " + policyDatapath.attachedVeths() + " pod veth(s)"
                                + (policyResult.failClosed().isEmpty() ? "" : "; FAIL CLOSED (the policy map is full): " + policyResult.failClosed())
                                + (policyResult.errors().isEmpty() ? "" : "; REJECTED: " + String.join("; ", policyResult.errors()))));
                        if (!policyResult.failClosed().isEmpty()) {
                            round.failures.add(new AgentStatus.Failure("Policy", "the policy map is full: " + policyResult.failClosed()
                                    + " fail closed (every new connection dropped)"));
                        }
                        policyResult.errors().forEach(e -> r.failures.add(new AgentStatus.Failure("Policy", e)));
                    } catch (RuntimeException e) {
                        // The datapath keeps what it had; the agent reports and tries again on the next change.
                        System.out.println("agent: policy sync failed: " + e.getMessage());
                        round.fail("Policy", e);
                    }
                    round.frontends = frontends;
                    lastObserved = observed;
                    // A pod whose veth is not there yet (being made or removed): look again shortly.
                    retry = localVeths(current, node).stream().anyMatch(v -> dev.sluice.linux.Libc.ifNameToIndex(v) <= 0);
                }
                if (System.currentTimeMillis() >= nextCollection) {
                    try {
                        conntrack = policyDatapath.collectExpired();
                        collectedTotal += conntrack.collected();
                    } catch (RuntimeException e) {
                        System.out.println("agent: conntrack collection failed: " + e.getMessage());
                    }
                    nextCollection = System.currentTimeMillis() + CT_COLLECTION_INTERVAL_MS;
                }
                List<Line> datapath = new ArrayList<>(round.lines);
                datapath.add(new Line("Conntrack", conntrack.entries() + " entries; " + collectedTotal
                        + " expired entries collected since start (every " + CT_COLLECTION_INTERVAL_MS / 1000 + " s)"));
                if (round.policy != null) {
                    try {
                        observability.update(current, observed, round.policy, round.frontends, policy.rules(), new Observability.Health(
                                mapFill(conntrack, round.policy, policyDatapath, lb, round.frontends), policyDatapath.attachedVeths(),
                                lb == null ? 0 : lb.attachedVeths(), lb != null && lb.socketLb(), endpoints.size()));
                    } catch (RuntimeException e) {
                        System.out.println("agent: flow directory update failed: " + e.getMessage());
                    }
                }
                datapath.add(observability.statusLine());
                Set<String> provided = new java.util.HashSet<>(round.provided);
                provided.add("Hubble"); // its own status line, enabled or not, says more than the values file
                if (values.hubble().enabled()) {
                    provided.add("Hubble Relay"); // `sluice observe` reads every node's socket
                }
                AgentStatus status = new AgentStatus(node, ProcessHandle.current().pid(), started, System.currentTimeMillis(), lastObserved,
                        endpoints, NodeStatusCompiler.lines(nodeState, endpoints, values, provided, datapath), values.warnings(),
                        policy.rules().all().entrySet().stream().collect(java.util.stream.Collectors.toMap(
                                java.util.Map.Entry::getKey, e -> e.getValue().toString())), round.failures);
                write(store.agentStatus(node), status);
                watcher.await(retry ? RETRY_MS : HEARTBEAT_MS);
            }
        }
    }

    /** What one sync of a state did: the subsystems' status lines and failures, kept until the next change. */
    private static final class Round {
        final List<Line> lines = new ArrayList<>();
        final List<AgentStatus.Failure> failures = new ArrayList<>();
        final Set<String> provided = new java.util.HashSet<>();
        dev.sluice.agent.policy.PolicyAgent.Result policy;
        List<Frontend> frontends = List.of();

        void fail(String subsystem, RuntimeException e) {
            String reason = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
            System.out.println("agent: " + subsystem + " failed: " + reason);
            lines.add(new Line(subsystem, "Degraded: " + reason + " (what was programmed before stays in force)"));
            failures.add(new AgentStatus.Failure(subsystem, reason));
        }
    }

    private static Set<String> localVeths(LabState state, String node) {
        return state.pods().stream().filter(p -> p.node().equals(node)).map(LabState.PodState::hostVeth).collect(Collectors.toSet());
    }

    /** How full the node's main maps are, from what the agent wrote (no map walk on every round). */
    private static java.util.Map<String, dev.sluice.observe.metrics.AgentMetrics.MapFill> mapFill(
            dev.sluice.agent.policy.PolicyDatapath.Conntrack conntrack, dev.sluice.agent.policy.PolicyAgent.Result policy,
            dev.sluice.agent.policy.PolicyDatapath policyDatapath, LbDatapath lb, List<Frontend> frontends) {
        var maps = new java.util.LinkedHashMap<String, dev.sluice.observe.metrics.AgentMetrics.MapFill>();
        maps.put("ct4_policy", new dev.sluice.observe.metrics.AgentMetrics.MapFill(conntrack.entries(),
                policyDatapath.object().map("ct4_policy").maxEntries()));
        maps.put("policy_entries", new dev.sluice.observe.metrics.AgentMetrics.MapFill(policy.entries(),
                policyDatapath.object().map("policy_entries").maxEntries()));
        if (lb != null) {
            // One slot-0 entry per frontend and one per backend slot.
            long slots = frontends.size() + frontends.stream().mapToLong(f -> f.backends().size()).sum();
            long backends = frontends.stream().flatMap(f -> f.backends().stream()).map(b -> b.key()).distinct().count();
            maps.put("lb4_services", new dev.sluice.observe.metrics.AgentMetrics.MapFill(slots, lb.capacity("lb4_services")));
            maps.put("lb4_backends", new dev.sluice.observe.metrics.AgentMetrics.MapFill(backends, lb.capacity("lb4_backends")));
        }
        return maps;
    }

    private static List<Line> lbLines(LbDatapath lb, List<Frontend> frontends, String cgroup, int maglevTableSize) {
        long backends = frontends.stream().flatMap(f -> f.backends().stream()).map(b -> b.key()).distinct().count();
        List<Line> lines = new ArrayList<>();
        lines.add(new Line("Services", frontends.size() + " frontend(s), " + backends + " backend(s) programmed"));
        lines.add(new Line("Socket LB", lb.socketLb() ? "Enabled (connect, sendmsg, recvmsg, getpeername for IPv4 and v4-mapped IPv6, sock_release on " + cgroup + ")"
                : "Disabled (socketLB.enabled: false): per-packet LB only"));
        lines.add(new Line("Per-packet LB", "tcx on " + lb.attachedVeths() + " pod veth(s), "
                + (lb.socketLb() ? "random backend for traffic that bypassed socket LB, kept by conntrack"
                : "Maglev consistent hashing, table size " + maglevTableSize)));
        return lines;
    }

    private static void write(Path file, AgentStatus status) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), status);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Reads the status file an agent wrote, if there is one. */
    public static Optional<AgentStatus> readStatus(Path file) {
        try {
            return Files.exists(file) ? Optional.of(JSON.readValue(file.toFile(), AgentStatus.class)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String argument(String[] args, String name) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        throw new IllegalArgumentException("missing " + name + " (usage: AgentMain --lab NAME --node NODE)");
    }

}
