package dev.sluice.cli.lab;

import dev.sluice.cli.GroupCommand;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.model.Feature;
import dev.sluice.model.SluiceValues;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "lab", description = "A Kubernetes-like cluster on this machine, made of network namespaces and cgroups.",
        subcommands = {LabCommand.Up.class, LabCommand.Apply.class, LabCommand.Delete.class, LabCommand.Pods.class,
                DescribeCommand.class, LabCommand.Exec.class, LabCommand.Logs.class, LabCommand.Get.class, LabCommand.Label.class,
                NodeCommand.class, LabCommand.Down.class})
public final class LabCommand extends GroupCommand {

    /**
     * Reads manifests, printing what the reader accepted with a warning (e.g. a duplicate key), and
     * checks every network policy and Gateway API route among them, as an API server validates a resource before storing it: a
     * policy that cannot be read fails the command, naming file and field, before anything changes.
     */
    static Desired read(List<Path> files, PrintWriter out) {
        Desired desired = ManifestReader.read(files, w -> out.println("warning: " + w));
        dev.sluice.policy.PolicyParser.parseAll(desired.others(), w -> out.println("warning: " + w));
        dev.sluice.l7.gateway.GatewayRoutes.check(desired.others(), w -> out.println("warning: " + w));
        return desired;
    }

    /**
     * The manifests among {@code files}, with directories expanded, leaving out the values file: seed
     * directories (like Cilium's examples) keep their values.yaml next to the manifests.
     */
    static List<Path> manifests(List<Path> files, Path values) throws java.io.IOException {
        if (values == null) {
            return files;
        }
        Path skip = values.toAbsolutePath().normalize();
        java.util.List<Path> out = new java.util.ArrayList<>();
        for (Path f : files) {
            if (Files.isDirectory(f)) {
                try (var list = Files.list(f)) {
                    list.filter(p -> p.toString().matches(".*\\.(ya?ml|json)$"))
                            .filter(p -> !p.toAbsolutePath().normalize().equals(skip)).sorted().forEach(out::add);
                }
            } else {
                out.add(f);
            }
        }
        return out;
    }

    static void printChanges(PrintWriter out, Lab.Changes changes) {
        changes.created().forEach(p -> out.println("  + pod " + p + (changes.notReady().containsKey(p)
                ? " (not ready: " + changes.notReady().get(p) + ")" : "")));
        changes.deleted().forEach(p -> out.println("  - pod " + p));
        if (!changes.pending().isEmpty()) {
            long n = changes.pending().stream().mapToLong(LabState.PendingPods::count).sum();
            out.println(n + " pod(s) Pending (they fit on no node; placed when a later change makes room):");
            changes.pending().forEach(p -> out.println("  ~ " + p.describe()));
        }
    }

    /** Prints what the values file asks for that this machine or Sluice cannot give, and keys it does not know. */
    static void printValues(PrintWriter out, Path values) {
        if (values == null) {
            return;
        }
        SluiceValues v = SluiceValues.load(values);
        v.warnings().forEach(w -> out.println("warning: " + w));
        for (Feature f : v.features()) {
            if (f.state() == Feature.State.UNAVAILABLE || f.state() == Feature.State.NOT_SUPPORTED) {
                out.println("note: " + f.name() + ": " + f.state().name().toLowerCase().replace('_', ' ') + ": " + f.detail());
            }
        }
    }

    @Command(name = "up", description = "Create a lab and apply manifests to it.")
    static final class Up implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Option(names = {"-f", "--filename"}, required = true, paramLabel = "FILE_OR_DIR",
                description = "Manifests (YAML/JSON files or directories; a directory's --values file is left out).")
        List<Path> files;
        @Option(names = "--nodes", defaultValue = "1", description = "Number of nodes (default: ${DEFAULT-VALUE}).")
        int nodes;
        @Option(names = "--values", paramLabel = "VALUES.yaml", description = "Helm-style values (e.g. Cilium's).")
        Path values;
        @Option(names = "--max-pods", defaultValue = "110", paramLabel = "N",
                description = "Pods a node takes at most, as the kubelet's maxPods (default: ${DEFAULT-VALUE}); more stay Pending.")
        int maxPods;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            Desired desired = read(manifests(files, values), out);
            if (values != null) {
                SluiceValues.load(values); // reject a broken values file before anything is made
            }
            Lab l = lab.lab();
            Lab.Changes changes;
            try (Progress progress = Progress.on(spec.commandLine().getErr())) {
                changes = l.onProgress(progress.listener()).up(nodes, maxPods, desired, values);
            }
            printValues(out, values);
            out.printf("lab %s is up: %d node(s), %d pod(s) ready in %.1f s%n", l.name(), nodes,
                    changes.created().size() - changes.notReady().size(), changes.millis() / 1000.0);
            printChanges(out, changes);
            out.println("next: sluice lab pods, sluice lab exec POD -- CMD, sluice status, sluice lab down");
            return 0;
        }
    }

    /** What apply and delete share: read manifests, change the running lab, say what changed. */
    abstract static class Change implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Option(names = {"-f", "--filename"}, required = true, paramLabel = "FILE_OR_DIR")
        List<Path> files;

        abstract Lab.Changes change(Lab lab, Desired manifests);

        abstract String done();

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Desired manifests = read(files, out);
            Lab.Changes changes;
            try (Progress progress = Progress.on(spec.commandLine().getErr())) {
                changes = change(lab.lab().onProgress(progress.listener()), manifests);
            }
            out.printf("%s in %.1f s%n", done(), changes.millis() / 1000.0);
            printChanges(out, changes);
            return 0;
        }
    }

    @Command(name = "apply", description = "Add or change objects in the running lab (scale, roll, add Services and policies).")
    static final class Apply extends Change {
        @Override
        Lab.Changes change(Lab lab, Desired manifests) {
            return lab.apply(manifests);
        }

        @Override
        String done() {
            return "applied";
        }
    }

    @Command(name = "delete", description = "Remove the objects of these manifests from the running lab.")
    static final class Delete extends Change {
        @Override
        Lab.Changes change(Lab lab, Desired manifests) {
            return lab.delete(manifests);
        }

        @Override
        String done() {
            return "deleted";
        }
    }

    @Command(name = "label", description = "Change labels in place, as kubectl label: of a pod ([ns/]name) or of a namespace"
            + " (ns/NAME); key=value sets, key- removes. Returns once every agent applied it.")
    static final class Label implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "TARGET", description = "[ns/]pod or ns/NAME")
        String target;
        @Parameters(index = "1..*", paramLabel = "LABEL", arity = "1..*", description = "key=value or key-")
        List<String> labels;

        @Override
        public Integer call() {
            java.util.Map<String, String> set = new java.util.LinkedHashMap<>();
            java.util.Set<String> remove = new java.util.LinkedHashSet<>();
            for (String l : labels) {
                int eq = l.indexOf('=');
                if (eq > 0) {
                    set.put(l.substring(0, eq), l.substring(eq + 1));
                } else if (l.endsWith("-") && l.length() > 1) {
                    remove.add(l.substring(0, l.length() - 1));
                } else {
                    throw new CommandLine.ParameterException(spec.commandLine(), "label '" + l + "' is neither key=value nor key-");
                }
            }
            Lab.Changes c = lab.lab().label(target, set, remove);
            spec.commandLine().getOut().println(c.created().getFirst() + " labeled (" + c.millis() + " ms, every agent applied it)");
            return 0;
        }
    }

    @Command(name = "pods", description = "List the lab's pods.")
    static final class Pods implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Option(names = {"-n", "--namespace"}, description = "Only this namespace.")
        String namespace;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = lab.lab().state();
            List<PodState> pods = state.pods().stream()
                    .filter(p -> namespace == null || p.namespace().equals(namespace)).toList();
            long now = System.currentTimeMillis();
            out.printf("%-12s %-40s %-6s %-17s %-9s %-6s %-8s %-14s %s%n", "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE",
                    "NODE", "IP", "LABELS");
            for (PodState p : pods) {
                String labels = p.labels().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
                out.printf("%-12s %-40s %-6s %-17s %-9s %-6s %-8s %-14s %s%n", p.namespace(), p.name(), p.readyColumn(),
                        PodStatus.of(p), PodStatus.restarts(p, now), PodStatus.age(now - p.createdEpochMs()), p.node(), p.ip(), labels);
            }
            // Pods that fit on no node have no name, node or address yet: one line per owner, with the count and why.
            for (LabState.PendingPods p : state.pending()) {
                if (namespace == null || p.namespace().equals(namespace)) {
                    out.printf("%-12s %-40s %-6s %-17s %-9s %-6s %-8s %-14s %s%n", p.namespace(),
                            p.owner() + (p.bare() ? "" : "-* (" + p.count() + " pods)"), "0/-", "Pending", "0", "-", "<none>", "<none>",
                            p.reason());
                }
            }
            return 0;
        }
    }

    @Command(name = "exec", description = "Run a command inside a pod: POD is [ns/]name, a unique name prefix, or [ns/]deploy/NAME.")
    static final class Exec implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Parameters(index = "0", paramLabel = "POD")
        String pod;
        @Parameters(index = "1..*", paramLabel = "CMD", description = "The command (after --).")
        List<String> command;

        @Override
        public Integer call() {
            if (command == null || command.isEmpty()) {
                throw new CommandLine.ParameterException(new CommandLine(this), "give a command: sluice lab exec POD -- CMD...");
            }
            return lab.lab().exec(pod, command);
        }
    }

    @Command(name = "logs", description = "Print a pod's container logs.")
    static final class Logs implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "POD")
        String pod;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            for (Path log : lab.lab().logs(pod)) {
                if (Files.exists(log)) {
                    out.print(Files.readString(log));
                }
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "get", description = "Objects the agents keep for themselves, with the status they gave them: "
            + "routes (Gateway API HTTPRoutes and GRPCRoutes, with Accepted and ResolvedRefs per parent).")
    static final class Get implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Parameters(index = "0", paramLabel = "KIND", description = "routes, httproutes or grpcroutes")
        String kind;

        @Override
        public Integer call() {
            String prefix = switch (kind.toLowerCase(java.util.Locale.ROOT)) {
                case "routes", "route" -> "";
                case "httproutes", "httproute" -> "HTTPRoute ";
                case "grpcroutes", "grpcroute" -> "GRPCRoute ";
                default -> throw new CommandLine.ParameterException(spec.commandLine(),
                        "KIND must be routes, httproutes or grpcroutes, got \"" + kind + "\"");
            };
            PrintWriter out = spec.commandLine().getOut();
            // Every agent translates the same routes from the same view; the first that reported speaks for them.
            for (var agent : lab.lab().state().agents()) {
                var status = dev.sluice.agent.api.StatusFile.read(Path.of(agent.statusFile()));
                if (status.isEmpty()) {
                    continue;
                }
                List<String> routes = status.get().lines().stream().filter(l -> l.key().equals("Route"))
                        .map(l -> l.value()).filter(v -> v.startsWith(prefix)).toList();
                out.println("ROUTE -> PARENT: CONDITIONS (as node " + agent.node() + "'s agent applied them)");
                routes.forEach(out::println);
                if (routes.isEmpty()) {
                    out.println("(none)");
                }
                return 0;
            }
            out.println("no agent has reported yet");
            return 1;
        }
    }

    @Command(name = "down", description = "Remove the lab: its processes, namespaces, cgroups and state, and nothing else.")
    static final class Down implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Lab l = lab.lab();
            // Idempotent, as `kubectl delete --ignore-not-found`: a lab already gone is not an error.
            spec.commandLine().getOut().println(l.down() ? "lab " + l.name() + " removed" : "no lab named '" + l.name() + "': nothing to remove");
            return 0;
        }
    }

}
