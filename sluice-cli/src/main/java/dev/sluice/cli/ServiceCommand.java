package dev.sluice.cli;

import dev.sluice.datapath.abi.Protocol;
import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;
import dev.sluice.datapath.lb.LbMapWriter;
import dev.sluice.datapath.lb.LbMaps;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.datapath.lb.LbStructs.Lb4Key;
import dev.sluice.datapath.lb.LbStructs.Lb4Service;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** Views of the Service load-balancing maps, read from the kernel (the node's pinned maps), not from the agent's memory. */
final class ServiceCommand {
    private ServiceCommand() {
    }

    static String proto(int p) {
        return p == Protocol.ICMP.value() ? Integer.toString(p) : Protocol.displayName(p);
    }

    /** Opens a node's pinned LB maps; the first node by default. */
    static LbMaps maps(Lab lab, String node) {
        LabState state = lab.state();
        String n = node != null ? node : state.nodes().getFirst().name();
        Path dir = lab.layout(n).maps();
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("node " + n + " has no load-balancing maps at " + dir
                    + " (is kubeProxyReplacement disabled, or has its agent not started yet?)");
        }
        return LbMaps.openPinned(dir);
    }

    @Command(name = "service", description = "Services as the datapath serves them.", subcommands = ServiceCommand.List.class)
    static final class Group extends GroupCommand {
    }

    @Command(name = "list", description = "ID, frontend, type and backends of every Service frontend (as `cilium service list`).")
    static final class List implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", description = "Read this node's maps (default: the first node).")
        String node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Lab l = lab.lab();
            Map<String, String> names = new HashMap<>();
            l.state().clusterIps().forEach((svc, ip) -> names.put(ip, svc));
            java.util.List<Frontend> frontends = LbMapWriter.read(maps(l, node));
            out.printf("%-4s %-24s %-13s %-44s %s%n", "ID", "Frontend", "Service Type", "Backend", "Service");
            for (Frontend f : frontends) {
                String frontend = f.address() + ":" + f.port() + "/" + proto(f.proto());
                String name = names.getOrDefault(f.address(), "");
                if (f.backends().isEmpty()) {
                    out.printf("%-4d %-24s %-13s %-44s %s%n", f.id(), frontend, "ClusterIP", "(none: connections are refused)", name);
                }
                for (int i = 0; i < f.backends().size(); i++) {
                    Backend b = f.backends().get(i);
                    String backend = (i + 1) + " => " + b.address() + ":" + b.port() + "/" + proto(b.proto()) + " (active)";
                    if (i == 0) {
                        out.printf("%-4d %-24s %-13s %-44s %s%n", f.id(), frontend, "ClusterIP", backend, name);
                    } else {
                        out.printf("%-4s %-24s %-13s %s%n", "", "", "", backend);
                    }
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "bpf", description = "Raw views of the BPF maps.", subcommands = {Bpf.Lb.class, PolicyCommands.BpfPolicy.class,
            PolicyCommands.BpfIpcache.class, PolicyCommands.BpfCt.class, SockmapCommands.Group.class})
    static final class Bpf extends GroupCommand {
        @Command(name = "lb", description = "The load-balancing map.", subcommands = LbList.class)
        static final class Lb extends GroupCommand {
        }
    }

    @Command(name = "list", description = "Every entry of lb4_services, joined with its backend (as `cilium bpf lb list`).")
    static final class LbList implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", description = "Read this node's maps (default: the first node).")
        String node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LbMaps maps = maps(lab.lab(), node);
            var backends = maps.backends().entries();
            java.util.List<Map.Entry<Lb4Key, Lb4Service>> entries = maps.services().entries().entrySet().stream()
                    .sorted(Comparator.comparing((Map.Entry<Lb4Key, Lb4Service> e) -> e.getKey().address().getHostAddress())
                            .thenComparingInt(e -> e.getKey().port()).thenComparingInt(e -> e.getKey().proto())
                            .thenComparingInt(e -> e.getKey().slot() == 0 ? Integer.MAX_VALUE : e.getKey().slot()))
                    .toList();
            out.printf("%-21s %s%n", "SERVICE ADDRESS", "BACKEND ADDRESS (REVNAT_ID) (SLOT)");
            String lastFrontend = null;
            for (Map.Entry<Lb4Key, Lb4Service> e : entries) {
                Lb4Key k = e.getKey();
                String frontend = k.address().getHostAddress() + ":" + k.port() + (k.proto() == Protocol.UDP.value() ? "/" + Protocol.UDP.displayName() : "");
                String shown = frontend.equals(lastFrontend) ? "" : frontend;
                lastFrontend = frontend;
                if (k.slot() == 0) {
                    out.printf("%-21s %s%n", shown, "0.0.0.0:0 (" + e.getValue().revNatIndex() + ") (0) [ClusterIP, non-routable]"
                            + (e.getValue().count() == 0 ? " (no backends)" : ""));
                } else {
                    var b = backends.get(e.getValue().backendId());
                    String backend = b == null ? "missing backend " + e.getValue().backendId() : b.address().getHostAddress() + ":" + b.port();
                    out.printf("%-21s %s (%d) (%d)%n", shown, backend, e.getValue().revNatIndex(), k.slot());
                }
            }
            out.flush();
            return 0;
        }
    }
}
