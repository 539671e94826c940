package dev.sluice.cli;

import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.prefilter.Cidr;
import dev.sluice.datapath.prefilter.PrefilterMaps;
import dev.sluice.lab.LabState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code sluice prefilter add|delete|list}: the XDP prefilter's blocked CIDRs, written straight into every node's
 * pinned trie (as {@code cilium prefilter update} writes Cilium's through its agent) and read back from the kernel.
 * The pinned map is the state: a restarted agent adopts it as it is.
 */
final class PrefilterCommands {
    private PrefilterCommands() {
    }

    @Command(name = "prefilter", description = "The XDP prefilter: IPv4 sources dropped by CIDR on every node's uplink.",
            subcommands = {Add.class, Delete.class, ListCidrs.class})
    static final class Group extends GroupCommand {
    }

    /** Each node's prefilter maps; a node whose agent never ran the prefilter is an error naming it. */
    static List<Map.Entry<String, PrefilterMaps>> open(LabState state) {
        List<Map.Entry<String, PrefilterMaps>> out = new ArrayList<>();
        for (LabState.NodeState node : state.nodes()) {
            PrefilterMaps maps = PrefilterMaps.openPinned(new ClusterLayout(state.name(), null).node(node.name()).maps());
            if (maps == null) {
                out.forEach(e -> e.getValue().close());
                throw new IllegalStateException("node " + node.name() + " has no prefilter maps: is prefilter.enabled true in the lab's values,"
                        + " and has its agent started?");
            }
            out.add(Map.entry(node.name(), maps));
        }
        return out;
    }

    static List<Cidr> parse(List<String> cidrs) {
        return cidrs.stream().map(Cidr::parse).toList();
    }

    @Command(name = "add", description = "Block IPv4 CIDRs on every node (a.b.c.d/n; an address alone is a /32).")
    static final class Add implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Parameters(arity = "1..*", paramLabel = "CIDR")
        List<String> cidrs;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            List<Cidr> add = parse(cidrs);
            PrintWriter out = spec.commandLine().getOut();
            for (Map.Entry<String, PrefilterMaps> node : open(lab.lab().state())) {
                try (PrefilterMaps maps = node.getValue()) {
                    maps.add(add);
                    out.printf("%s: %d CIDR(s) blocked%n", node.getKey(), maps.list().size());
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "delete", description = "Unblock IPv4 CIDRs on every node (their drop counters go with them).")
    static final class Delete implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Parameters(arity = "1..*", paramLabel = "CIDR")
        List<String> cidrs;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            List<Cidr> delete = parse(cidrs);
            PrintWriter out = spec.commandLine().getOut();
            for (Map.Entry<String, PrefilterMaps> node : open(lab.lab().state())) {
                try (PrefilterMaps maps = node.getValue()) {
                    int n = maps.delete(delete);
                    out.printf("%s: %d CIDR(s) unblocked, %d blocked%n", node.getKey(), n, maps.list().size());
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "list", description = "The blocked CIDRs of each node, read from its kernel map, with the packets each dropped.")
    static final class ListCidrs implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", description = "Only this node.")
        String node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            out.printf("%-10s %-20s %12s %14s%n", "NODE", "CIDR", "DROPPED", "BYTES");
            for (Map.Entry<String, PrefilterMaps> e : open(lab.lab().state())) {
                try (PrefilterMaps maps = e.getValue()) {
                    if (node != null && !node.equals(e.getKey())) {
                        continue;
                    }
                    Map<Cidr, DropValue> drops = maps.drops();
                    for (Cidr c : maps.list()) {
                        DropValue d = drops.getOrDefault(c, DropValue.ZERO);
                        out.printf("%-10s %-20s %12d %14d%n", e.getKey(), c, d.packets(), d.bytes());
                    }
                }
            }
            out.flush();
            return 0;
        }
    }
}
