package dev.sluice.agent;

import dev.sluice.agent.api.AgentLauncher;
import dev.sluice.linux.JavaCommand;

import java.util.ArrayList;
import java.util.List;

/** Runs {@link AgentMain} in a new JVM on the caller's class path, with a small heap: one agent per node. */
public final class JvmAgentLauncher implements AgentLauncher {

    @Override
    public List<String> command(Spec spec) {
        // Full tiered compilation (C2): unlike the short-lived JVMs JavaCommand is tuned for, an agent runs for
        // days and its change latency is set by compiled code.
        return JavaCommand.of(AgentMain.class.getName(), List.of("-Xmx96m", "-XX:TieredStopAtLevel=4"), argumentsOf(spec));
    }

    /** The agent's arguments for {@code spec} (also what a DaemonSet's container would pass). */
    static List<String> argumentsOf(Spec spec) {
        List<String> args = new ArrayList<>(List.of("--source", spec.source(), "--cluster", spec.layout().cluster().cluster(),
                "--node", spec.layout().node(), "--state-dir", spec.layout().cluster().stateDir().toString(),
                "--cgroup", spec.cgroup().toString()));
        if (spec.valuesFile() != null) {
            args.addAll(List.of("--values", spec.valuesFile().toString()));
        }
        return args;
    }
}
