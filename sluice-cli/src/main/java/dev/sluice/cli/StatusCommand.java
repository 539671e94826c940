package dev.sluice.cli;

import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "status", description = "Show the state of the lab's agents, one `Key: value` line per subsystem, as `cilium status` does.")
final class StatusCommand implements Callable<Integer> {
    @Mixin
    LabOptions lab;
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Lab l = lab.lab();
        LabState state = l.state();
        long now = System.currentTimeMillis();
        out.printf("%-24s %s, %d node(s), %d pod(s), up %ds%n", "Lab:", state.name(), state.nodes().size(), state.pods().size(),
                (now - state.createdEpochMs()) / 1000);
        l.echoHosts().forEach((node, running) -> out.printf("%-24s %s%n", "Echo host " + node + ":",
                running ? "Ok" : "not running: its echo pods do not answer until a change makes an echo pod on this node, which starts it again"));
        if (state.pendingCount() > 0) {
            // A degraded state, shown as such: pods asked for that fit on no node.
            out.printf("%-24s %d (%s)%n", "Pending pods:", state.pendingCount(),
                    state.pending().stream().map(LabState.PendingPods::describe).collect(java.util.stream.Collectors.joining("; ")));
        }
        // As kubectl get pods would flag them: pods not ready, waiting to restart, or restarted.
        List<String> troubled = new java.util.ArrayList<>();
        for (LabState.PodState p : state.pods()) {
            boolean waiting = p.containers().stream().anyMatch(c -> c.waiting() != null);
            boolean done = p.containers().stream().anyMatch(c -> c.terminated() != null);
            if (waiting || done || !p.ready() || p.restarts() > 0) {
                String status = waiting ? p.containers().stream().filter(c -> c.waiting() != null).findFirst().orElseThrow().waiting()
                        : done ? "Terminated" : !p.ready() ? "NotReady" : "Running";
                troubled.add(p.key() + " " + p.readyColumn() + " " + status + ", " + p.restarts() + " restart(s)");
            }
        }
        long ready = state.pods().stream().filter(p -> p.ready() && Lab.running(p)).count();
        out.printf("%-24s %s%n", "Pods:", ready + "/" + state.pods().size() + " ready" + (troubled.isEmpty() ? "" : "; " + String.join("; ", troubled)));
        out.printf("%-24s %s%n", "Pod limits:", Lab.limitsMechanism());
        l.relay().ifPresent(r -> out.printf("%-24s %s%n", "Hubble Relay:", r.describe()));
        int downKubelets = 0;
        for (LabState.KubeletState k : state.kubelets()) {
            // Without its kubelet a node's pods are neither probed nor restarted: a degraded state, said as such.
            boolean up = Lab.running(k);
            downKubelets += up ? 0 : 1;
            out.printf("%-24s %s%n", "Kubelet " + k.node() + ":", up ? "Ok (pid " + k.pid() + ")"
                    : "DOWN (process " + k.pid() + " is gone: probes and restarts stopped on this node; see " + k.log() + ")");
        }
        int unhealthy = 0;
        for (LabState.AgentState agent : state.agents()) {
            Optional<AgentStatus> status = StatusFile.read(Path.of(agent.statusFile()));
            boolean running = Lab.running(agent);
            var supervision = Lab.supervision(agent);
            long agentPid = supervision.map(r -> r.agentPid()).orElse(0L);
            boolean fresh = status.isPresent() && status.get().pid() == agentPid;
            String health = !running ? "DOWN (its supervisor, process " + agent.pid() + ", is gone; see " + agent.log() + ")"
                    : agentPid == 0 ? "RESTARTING (see " + agent.log() + ")"
                    : !fresh ? "starting (pid " + agentPid + ")"
                    : "Ok (pid " + agentPid + ", last report " + (now - status.get().heartbeatEpochMs()) + " ms ago)";
            if (!running || agentPid == 0) {
                unhealthy++;
            }
            out.printf("%-24s %s%n", "Agent " + agent.node() + ":", health);
            supervision.ifPresent(r -> out.printf("  %-22s %s%n", "Restarts:", r.restarts()
                    + (r.lastExit() == null ? "" : "; last exit: " + r.lastExit().describe() + ", "
                            + (now - r.lastExit().atEpochMs()) / 1000 + " s ago")));
            status.ifPresent(s -> s.lines().forEach(line -> out.printf("  %-22s %s%n", line.key() + ":", line.value())));
        }
        return unhealthy + downKubelets == 0 ? 0 : 1;
    }
}
