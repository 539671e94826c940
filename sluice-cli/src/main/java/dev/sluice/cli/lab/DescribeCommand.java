package dev.sluice.cli.lab;

import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState.ContainerExit;
import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.lab.PodEvents;
import dev.sluice.model.ContainerSpec;
import dev.sluice.model.PodTemplate;
import dev.sluice.model.ResourceLimits;
import dev.sluice.model.SecuritySpec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code sluice lab describe pod NAME}: a pod as kubectl describe shows it (containers, probes, conditions, events). */
@Command(name = "describe", description = "Describe a pod as kubectl describe does: sluice lab describe pod [ns/]NAME.")
final class DescribeCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);
    @Mixin
    LabOptions lab;
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Parameters(index = "0", paramLabel = "KIND", description = "pod (or po, pods)")
    String kind;
    @Parameters(index = "1", paramLabel = "POD", description = "[ns/]name, a unique prefix, or [ns/]deploy/NAME")
    String name;

    @Override
    public Integer call() {
        if (!List.of("pod", "pods", "po").contains(kind)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "can only describe pods, not '" + kind + "'");
        }
        PrintWriter out = spec.commandLine().getOut();
        Lab l = lab.lab();
        PodState pod = l.pod(name);
        long now = System.currentTimeMillis();
        Optional<PodTemplate> template = l.template(pod);
        Map<String, String> lastProbes = l.lastProbeFailures(pod);
        row(out, 0, "Name:", pod.name());
        row(out, 0, "Namespace:", pod.namespace());
        row(out, 0, "Node:", pod.node());
        row(out, 0, "Start Time:", TIME.format(Instant.ofEpochMilli(pod.createdEpochMs())));
        row(out, 0, "Labels:", pod.labels().isEmpty() ? "<none>" : pod.labels().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("\n" + " ".repeat(18))));
        row(out, 0, "Status:", PodStatus.of(pod));
        row(out, 0, "IP:", pod.ip());
        row(out, 0, "Controlled By:", pod.owner() == null ? "<none>" : "Deployment/" + pod.owner());
        row(out, 0, "Restart Policy:", template.map(t -> t.restartPolicy().manifestName()).orElse("<unknown>"));
        out.println("Containers:");
        for (ContainerState c : pod.containers()) {
            ContainerSpec cs = template.flatMap(t -> t.containers().stream().filter(x -> x.name().equals(c.name())).findFirst()).orElse(null);
            out.println("  " + c.name() + ":");
            row(out, 4, "Image:", c.image() == null ? "<none>" : c.image());
            row(out, 4, "Ports:", c.ports().isEmpty() ? "<none>" : c.ports().stream().map(p -> p + "/TCP").collect(Collectors.joining(", ")));
            if (c.pid() != 0) {
                row(out, 4, "State:", "Running");
                row(out, 6, "Started:", c.startedAtEpochMs() == 0 ? "<unknown>" : TIME.format(Instant.ofEpochMilli(c.startedAtEpochMs())));
                row(out, 6, "PID:", Long.toString(c.pid()));
            } else if (c.waiting() != null) {
                row(out, 4, "State:", "Waiting");
                row(out, 6, "Reason:", c.waiting() + " (back-off " + c.backOffMs() / 1000 + "s, restarts in "
                        + Math.max(0, (c.waitingUntilEpochMs() - now) / 1000) + "s)");
            } else if (c.terminated() != null) {
                row(out, 4, "State:", "Terminated");
                exit(out, c.terminated());
            }
            if (c.lastExit() != null && c.terminated() == null) {
                row(out, 4, "Last State:", "Terminated");
                exit(out, c.lastExit());
            }
            row(out, 4, "Ready:", Boolean.toString(c.ready() || (pod.ready() && c.pid() != 0)).replace('t', 'T').replace('f', 'F'));
            row(out, 4, "Restart Count:", Integer.toString(c.restartCount()));
            if (cs != null) {
                if (!cs.limits().isEmpty()) {
                    ResourceLimits lim = cs.limits();
                    out.println("    Limits:");
                    if (lim.cpuMillis() != null) {
                        row(out, 6, "cpu:", lim.cpuMillis() + "m");
                    }
                    if (lim.memoryBytes() != null) {
                        row(out, 6, "memory:", lim.memoryBytes() + " bytes");
                    }
                    row(out, 6, "enforced by:", Lab.limitsMechanism());
                }
                if (cs.livenessProbe() != null) {
                    row(out, 4, "Liveness:", cs.livenessProbe().describe());
                }
                if (cs.readinessProbe() != null) {
                    row(out, 4, "Readiness:", cs.readinessProbe().describe());
                }
                String last = lastProbes.getOrDefault(c.name(), "");
                if (!last.isEmpty()) {
                    row(out, 4, "Last probe failure:", last);
                }
                SecuritySpec sec = cs.securityContext();
                if (!sec.equals(SecuritySpec.DEFAULT)) {
                    List<String> parts = new ArrayList<>();
                    if (sec.runAsUser() != null) {
                        parts.add("runAsUser=" + sec.runAsUser());
                    }
                    if (sec.runAsGroup() != null) {
                        parts.add("runAsGroup=" + sec.runAsGroup());
                    }
                    if (sec.runAsNonRoot()) {
                        parts.add("runAsNonRoot");
                    }
                    if (!sec.addCapabilities().isEmpty()) {
                        parts.add("add=" + sec.addCapabilities());
                    }
                    if (!sec.dropCapabilities().isEmpty()) {
                        parts.add("drop=" + sec.dropCapabilities());
                    }
                    if (sec.readOnlyRootFilesystem()) {
                        parts.add("readOnlyRootFilesystem");
                    }
                    if (Boolean.FALSE.equals(sec.allowPrivilegeEscalation())) {
                        parts.add("allowPrivilegeEscalation=false");
                    }
                    row(out, 4, "Security:", String.join(" ", parts));
                }
                if (!cs.env().isEmpty()) {
                    out.println("    Environment:");
                    cs.env().forEach((k, v) -> row(out, 6, k + ":", v));
                }
            }
        }
        boolean running = Lab.running(pod);
        boolean ready = pod.ready() && running;
        out.println("Conditions:");
        out.printf("  %-18s %s%n", "Type", "Status");
        out.printf("  %-18s %s%n", "Initialized", "True");
        out.printf("  %-18s %s%n", "Ready", ready ? "True" : "False");
        out.printf("  %-18s %s%n", "ContainersReady", ready ? "True" : "False");
        out.printf("  %-18s %s%n", "PodScheduled", "True");
        List<PodEvents.Event> events = l.events(pod);
        out.println("Events:" + (events.isEmpty() ? "  <none>" : ""));
        if (!events.isEmpty()) {
            out.printf("  %-8s %-10s %-20s %s%n", "Type", "Reason", "Age", "Message");
            // Repeated events (a probe failing every period) are shown once, as kubectl shows them: "(x5 over 12s)".
            List<List<PodEvents.Event>> groups = new ArrayList<>();
            for (PodEvents.Event e : events) {
                List<PodEvents.Event> lastGroup = groups.isEmpty() ? null : groups.getLast();
                if (lastGroup != null && lastGroup.getFirst().reason().equals(e.reason()) && lastGroup.getFirst().message().equals(e.message())) {
                    lastGroup.add(e);
                } else {
                    groups.add(new ArrayList<>(List.of(e)));
                }
            }
            for (List<PodEvents.Event> g : groups.subList(Math.max(0, groups.size() - 30), groups.size())) {
                PodEvents.Event first = g.getFirst();
                PodEvents.Event lastOne = g.getLast();
                String age = g.size() == 1 ? PodStatus.age(now - first.atEpochMs())
                        : PodStatus.age(now - lastOne.atEpochMs()) + " (x" + g.size() + " over " + PodStatus.age(lastOne.atEpochMs() - first.atEpochMs()) + ")";
                out.printf("  %-8s %-10s %-20s %s%n", first.type(), first.reason(), age, first.message());
            }
        }
        return 0;
    }

    private static void exit(PrintWriter out, ContainerExit e) {
        row(out, 6, "Reason:", e.reason());
        row(out, 6, "Exit Code:", e.code() < 0 ? "<unknown>" : Integer.toString(e.code()));
        row(out, 6, "Started:", TIME.format(Instant.ofEpochMilli(e.startedAtEpochMs())));
        row(out, 6, "Finished:", TIME.format(Instant.ofEpochMilli(e.finishedAtEpochMs())));
    }

    private static void row(PrintWriter out, int indent, String key, String value) {
        // Values start 18 columns after the key's indent (at least one space after a longer key), as kubectl aligns them.
        out.printf("%s%-" + Math.max(key.length() + 1, 18) + "s%s%n", " ".repeat(indent), key, value);
    }
}
