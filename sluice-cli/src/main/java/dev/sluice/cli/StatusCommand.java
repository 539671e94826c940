package dev.sluice.cli;

import dev.sluice.agent.AgentMain;
import dev.sluice.agent.AgentStatus;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.PrintWriter;
import java.nio.file.Path;
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
        int unhealthy = 0;
        for (LabState.AgentState agent : state.agents()) {
            Optional<AgentStatus> status = AgentMain.readStatus(Path.of(agent.statusFile()));
            boolean running = Lab.running(agent);
            String health = !running ? "DOWN (process " + agent.pid() + " is gone; see " + agent.log() + ")"
                    : status.isEmpty() ? "starting (pid " + agent.pid() + ")"
                    : "Ok (pid " + agent.pid() + ", last report " + (now - status.get().heartbeatEpochMs()) + " ms ago)";
            if (!running) {
                unhealthy++;
            }
            out.printf("%-24s %s%n", "Agent " + agent.node() + ":", health);
            status.ifPresent(s -> s.lines().forEach(line -> out.printf("  %-22s %s%n", line.key() + ":", line.value())));
        }
        return unhealthy == 0 ? 0 : 1;
    }
}
