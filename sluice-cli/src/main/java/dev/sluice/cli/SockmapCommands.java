package dev.sluice.cli;

import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.datapath.sockmap.SockmapMaps;
import dev.sluice.lab.LabState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Comparator;
import java.util.concurrent.Callable;

/**
 * {@code sluice bpf sockmap list}: the sockets in each node's socket-bypass SOCKHASH (bpf/sock_bypass.bpf.c), read
 * from the kernel: each by its own 4-tuple (local end first; a bypassed connection shows as two sockets, one per
 * end) and its socket cookie, then the node's counters.
 */
final class SockmapCommands {
    private SockmapCommands() {
    }

    @Command(name = "sockmap", description = "The same-node socket bypass's SOCKHASH.", subcommands = ListSockets.class)
    static final class Group extends GroupCommand {
    }

    @Command(name = "list", description = "The sockets in each node's socket-bypass map, with the node's counters.")
    static final class ListSockets implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", description = "Only this node.")
        String node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = lab.lab().state();
            out.printf("%-10s %-21s %-21s %s%n", "NODE", "LOCAL", "REMOTE", "COOKIE");
            StringBuilder totals = new StringBuilder();
            for (LabState.NodeState n : state.nodes()) {
                if (node != null && !node.equals(n.name())) {
                    continue;
                }
                try (SockmapMaps maps = SockmapMaps.openPinned(new ClusterLayout(state.name(), null).node(n.name()).maps())) {
                    if (maps == null) {
                        totals.append(n.name()).append(": no socket-bypass map (sockops.enabled false, or the agent has not started)\n");
                        continue;
                    }
                    maps.list().stream()
                            .sorted(Comparator.comparing((SockmapMaps.Socket s) -> s.key().toString()))
                            .forEach(s -> out.printf("%-10s %-21s %-21s %d%n", n.name(),
                                    s.key().local().getHostAddress() + ":" + s.key().localPort(),
                                    s.key().remote().getHostAddress() + ":" + s.key().remotePort(), s.cookie()));
                    var c = maps.counters();
                    totals.append(String.format("%s: %d socket(s) inserted, %d connection(s) not eligible, %d message(s) / %d byte(s)"
                                    + " redirected, %d socket(s) fell back to the stack (%d message(s))%n", n.name(), c.inserted(),
                            c.skipped(), c.redirectedMsgs(), c.redirectedBytes(), c.fallbacks(), c.fallbackMsgs()));
                }
            }
            out.print(totals);
            out.flush();
            return 0;
        }
    }
}
