package dev.sluice.cli;

import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.Identities;
import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.datapath.abi.Direction;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.abi.EndpointFlag;
import dev.sluice.datapath.abi.Protocol;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;
import dev.sluice.datapath.policy.PolicyStructs.DropKey;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.datapath.policy.PolicyStructs.PolicyEntry;
import dev.sluice.datapath.policy.PolicyStructs.PolicyKey;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.Lpm;
import dev.sluice.policy.ReservedIdentity;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * Views of identities, endpoints and the policy datapath, read from the kernel (a node's pinned maps)
 * and the lab's identity store, in the formats Cilium's users know.
 */
final class PolicyCommands {
    private PolicyCommands() {
    }

    /** The shared options: which lab, which node. */
    static final class NodeOptions {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", description = "Read this node's maps (default: the first node).")
        String node;

        Lab lab() {
            return lab.lab();
        }

        String node(LabState state) {
            return node != null ? node : state.nodes().getFirst().name();
        }

        BpfMap map(LabState state, String name) {
            Path pin = new ClusterLayout(state.name(), null).node(node(state)).maps().resolve(name);
            if (!Files.exists(pin)) {
                throw new IllegalStateException("node " + node(state) + " has no map " + name + " at " + pin + " (has its agent started?)");
            }
            return BpfMap.openPinned(pin);
        }

        Map<Integer, String> rules(LabState state) {
            return state.agents().stream().filter(a -> a.node().equals(node(state))).findFirst()
                    .flatMap(a -> StatusFile.read(Path.of(a.statusFile()))).map(AgentStatus::policyRules).orElse(Map.of());
        }
    }

    /** Cilium's label for a reserved identity, e.g. reserved:remote-node. */
    static String reservedName(ReservedIdentity r) {
        return "reserved:" + r.name().toLowerCase().replace('_', '-');
    }

    static String identityName(int id, Map<Integer, String> cluster) {
        for (ReservedIdentity r : ReservedIdentity.values()) {
            if (r.id() == id) {
                return reservedName(r);
            }
        }
        return cluster.getOrDefault(id, (id & (1 << 24)) != 0 ? "cidr (local)" : "?");
    }

    static Map<Integer, String> clusterIdentities(Lab lab) {
        Map<Integer, String> out = new HashMap<>();
        Identities.read(lab.layout().identities())
                .forEach(a -> out.put(a.id(), a.labels().toString()));
        return out;
    }

    @Command(name = "identity", description = "Security identities.", subcommands = IdentityList.class)
    static final class Identity extends GroupCommand {
    }

    @Command(name = "list", description = "Every identity: reserved ones and those of the lab's label sets (as `cilium identity list`).")
    static final class IdentityList implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            out.printf("%-8s %s%n", "ID", "LABELS");
            for (ReservedIdentity r : ReservedIdentity.values()) {
                out.printf("%-8d %s%n", r.id(), reservedName(r));
            }
            Identities.read(lab.lab().layout().identities())
                    .forEach(a -> out.printf("%-8d %s%n", a.id(), a.labels()));
            out.flush();
            return 0;
        }
    }

    @Command(name = "endpoint", description = "Endpoints (pods) of a node.", subcommands = EndpointList.class)
    static final class Endpoint extends GroupCommand {
    }

    @Command(name = "list", description = "Endpoint id, pod, identity, IPv4 and policy enforcement per direction (as `cilium endpoint list`).")
    static final class EndpointList implements Callable<Integer> {
        @Mixin
        NodeOptions node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = node.lab().state();
            Map<String, PodState> byIp = state.pods().stream().collect(Collectors.toMap(PodState::ip, p -> p, (a, b) -> a));
            try (BpfMap map = node.map(state, "endpoints")) {
                out.printf("%-9s %-20s %-20s %-42s %-14s %s%n", "ENDPOINT", "POLICY (ingress)", "POLICY (egress)", "POD", "IPv4", "IDENTITY");
                map.typed(Codecs.u32(), EndpointInfo.CODEC).entries().values().stream()
                        .sorted(Comparator.comparingInt(EndpointInfo::endpointId)).forEach(e -> {
                            PodState p = byIp.get(e.address().getHostAddress());
                            boolean failClosed = EndpointFlag.FAIL_CLOSED.isSetIn(e.flags());
                            out.printf("%-9d %-20s %-20s %-42s %-14s %d%n", e.endpointId(),
                                    failClosed ? EndpointFlag.FAIL_CLOSED.displayName() : e.enforceIngress() ? "Enabled" : "Disabled",
                                    failClosed ? EndpointFlag.FAIL_CLOSED.displayName() : e.enforceEgress() ? "Enabled" : "Disabled",
                                    p == null ? "?" : p.key(), e.address().getHostAddress(), e.identity());
                        });
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "policy", description = "The policy map.", subcommands = PolicyGet.class)
    static final class BpfPolicy extends GroupCommand {
    }

    @Command(name = "get", description = "The policy entries of one endpoint (by endpoint id or pod name), with the rule behind each.")
    static final class PolicyGet implements Callable<Integer> {
        @Mixin
        NodeOptions node;
        @Parameters(paramLabel = "ENDPOINT")
        String endpoint;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = node.lab().state();
            Map<Integer, String> identities = clusterIdentities(node.lab());
            Map<Integer, String> rules = node.rules(state);
            int id;
            try (BpfMap endpoints = node.map(state, "endpoints")) {
                id = resolve(endpoints.typed(Codecs.u32(), EndpointInfo.CODEC).entries().values().stream().toList(), state);
            }
            try (BpfMap map = node.map(state, "policy_entries")) {
                out.printf("%-8s %-9s %-50s %-10s %s%n", "VERDICT", "DIRECTION", "IDENTITY", "PORT/PROTO", "RULE");
                map.typed(PolicyKey.CODEC, PolicyEntry.CODEC).entries().entrySet().stream()
                        .filter(e -> e.getKey().endpointId() == id)
                        .sorted(Comparator.comparingInt((Map.Entry<PolicyKey, PolicyEntry> e) -> e.getKey().direction())
                                .thenComparingInt(e -> e.getKey().remoteIdentity()).thenComparingInt(e -> e.getKey().port()))
                        .forEach(e -> {
                            PolicyKey k = e.getKey();
                            String port = (k.port() == 0 ? "ANY" : Integer.toString(k.port())) + "/" + (k.proto() == Protocol.TCP.value() || k.proto() == Protocol.UDP.value() ? Protocol.displayName(k.proto()) : "ANY");
                            out.printf("%-8s %-9s %-50s %-10s %s%n", e.getValue().deny() ? "Deny" : "Allow", k.direction() == Direction.INGRESS.value() ? Direction.INGRESS.displayName() : Direction.EGRESS.displayName(),
                                    k.remoteIdentity() + " " + identityName(k.remoteIdentity(), identities), port,
                                    rules.getOrDefault(e.getValue().ruleId(), "#" + e.getValue().ruleId()));
                        });
            }
            out.flush();
            return 0;
        }

        private int resolve(List<EndpointInfo> endpoints, LabState state) {
            if (endpoint.matches("\\d+")) {
                return Integer.parseInt(endpoint);
            }
            PodState pod = node.lab().pod(endpoint);
            return endpoints.stream().filter(e -> e.address().getHostAddress().equals(pod.ip())).findFirst()
                    .orElseThrow(() -> new IllegalStateException("pod " + pod.key() + " is not an endpoint of " + node.node(state)))
                    .endpointId();
        }
    }

    @Command(name = "ipcache", description = "The ipcache.", subcommands = IpcacheList.class)
    static final class BpfIpcache extends GroupCommand {
    }

    @Command(name = "list", description = "Every prefix of the ipcache with its identity (as `cilium bpf ipcache list`).")
    static final class IpcacheList implements Callable<Integer> {
        @Mixin
        NodeOptions node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = node.lab().state();
            Map<Integer, String> identities = clusterIdentities(node.lab());
            try (BpfMap map = node.map(state, "ipcache")) {
                out.printf("%-20s %s%n", "IP PREFIX/ADDRESS", "IDENTITY");
                map.typed(Codecs.lpm(Codecs.ipv4()), IpcacheValue.CODEC).entries().entrySet().stream()
                        .sorted(Comparator.comparing((Map.Entry<Lpm<Inet4Address>, IpcacheValue> e) -> e.getKey().data().getHostAddress())
                                .thenComparingInt(e -> e.getKey().prefixLength()))
                        .forEach(e -> out.printf("%-20s identity=%d %s%n", e.getKey().data().getHostAddress() + "/" + e.getKey().prefixLength(),
                                e.getValue().identity(), identityName(e.getValue().identity(), identities)));
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "ct", description = "Connection tracking.", subcommands = CtList.class)
    static final class BpfCt extends GroupCommand {
    }

    @Command(name = "list", description = "The policy conntrack table, one entry a line (as `cilium bpf ct list global`).")
    static final class CtList implements Callable<Integer> {
        @Mixin
        NodeOptions node;
        @Parameters(paramLabel = "global", defaultValue = "global", description = "The table (only: global).")
        String table;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = node.lab().state();
            // Established flows, then those not yet established (two tables: docs/datapath.md, "Conntrack fairness").
            for (String table : List.of("ct4_policy", "ct4_policy_new")) {
                try (BpfMap map = node.map(state, table)) {
                    for (Map.Entry<Ct4Tuple, Ct4Entry> e : map.typed(Ct4Tuple.CODEC, Ct4Entry.CODEC).entries().entrySet()) {
                        out.println(CtFormat.line(e.getKey(), e.getValue()));
                    }
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "policy", description = "Network policy.", subcommands = {Drops.class, Explain.class})
    static final class PolicyGroup extends GroupCommand {
    }

    @Command(name = "drops", description = "Policy drops counted by the datapath, each with the rule (or default deny) that caused it.")
    static final class Drops implements Callable<Integer> {
        @Mixin
        NodeOptions node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = node.lab().state();
            Map<Integer, String> identities = clusterIdentities(node.lab());
            Map<Integer, String> rules = node.rules(state);
            try (BpfMap map = node.map(state, "policy_drops")) {
                out.printf("%-8s %-9s %-44s %-8s %-28s %s%n", "ENDPOINT", "DIRECTION", "FROM/TO IDENTITY", "PACKETS", "REASON", "RULE");
                // One counter per CPU, so that the drop path never contends: added up here.
                Map<DropKey, Long> packets = new HashMap<>();
                map.typedPerCpu(DropKey.CODEC, DropValue.CODEC).forEach((k, vs) -> packets.put(k, vs.stream().mapToLong(DropValue::packets).sum()));
                packets.forEach((k, n) -> out.printf("%-8d %-9s %-44s %-8d %-28s %s%n", k.endpointId(), k.direction() == Direction.INGRESS.value() ? Direction.INGRESS.displayName() : Direction.EGRESS.displayName(),
                        k.remoteIdentity() + " " + identityName(k.remoteIdentity(), identities), n,
                        DropReason.displayName(k.reason()), rules.getOrDefault(k.ruleId(), "#" + k.ruleId())));
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "explain", description = "Why a new connection would be allowed or dropped: which policies select each"
            + " side, which rule allows or which default deny drops, from the reference evaluator the agents compile the"
            + " datapath from.")
    static final class Explain implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "SRC", description = "[ns/]pod, or an IPv4 address")
        String source;
        @Parameters(index = "1", paramLabel = "DST", description = "[ns/]pod, or an IPv4 address")
        String destination;
        @Parameters(index = "2", paramLabel = "PORT[/PROTO]", description = "e.g. 80, 53/UDP, 9000/SCTP (TCP if left out)")
        String port;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            int slash = port.indexOf('/');
            String number = slash < 0 ? port : port.substring(0, slash);
            String protoText = slash < 0 ? "TCP" : port.substring(slash + 1).toUpperCase(java.util.Locale.ROOT);
            dev.sluice.model.Protocol proto;
            int portNumber;
            try {
                proto = dev.sluice.model.Protocol.valueOf(protoText);
                portNumber = Integer.parseInt(number);
                if (portNumber < 1 || portNumber > 65535) {
                    throw new NumberFormatException();
                }
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "PORT[/PROTO] must be a port 1..65535 and TCP, UDP or SCTP, got '" + port + "'");
            }
            Lab l = lab.lab();
            dev.sluice.model.cluster.ClusterView view = l.view();
            dev.sluice.policy.PolicySet policies = dev.sluice.policy.ClusterPolicy.policies(view, p -> out.println("warning: left out: " + p));
            Map<dev.sluice.policy.Labels, Integer> seeded = new java.util.LinkedHashMap<>();
            Identities.read(l.layout().identities()).forEach(a -> seeded.put(a.labels(), a.id()));
            dev.sluice.policy.IdentityAllocator allocator;
            try {
                allocator = new dev.sluice.policy.IdentityAllocator(seeded);
            } catch (IllegalArgumentException e) {
                allocator = new dev.sluice.policy.IdentityAllocator();
            }
            Map<String, dev.sluice.policy.Endpoint> endpoints = dev.sluice.policy.ClusterPolicy.endpoints(view, allocator);
            var explanation = new dev.sluice.policy.PolicyExplainer(dev.sluice.policy.ReferenceEvaluator.kubernetesDefaults())
                    .explain(policies, peer(l, endpoints, source), peer(l, endpoints, destination), proto, portNumber);
            explanation.lines().forEach(out::println);
            out.flush();
            return 0;
        }

        /** A pod by {@code [ns/]name} or address; any other address is outside the cluster (the world to selectors). */
        private static dev.sluice.policy.Peer peer(Lab lab, Map<String, dev.sluice.policy.Endpoint> endpoints, String text) {
            if (text.matches("[0-9.]+")) {
                return endpoints.values().stream().filter(e -> e.address() != null && e.address().getHostAddress().equals(text))
                        .findFirst().<dev.sluice.policy.Peer>map(e -> e).orElseGet(() -> dev.sluice.policy.Peer.External.of(text));
            }
            PodState pod = lab.pod(text);
            return endpoints.get(pod.key());
        }
    }
}
