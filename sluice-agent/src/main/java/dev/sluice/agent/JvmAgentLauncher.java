package dev.sluice.agent;

import dev.sluice.agent.api.AgentLauncher;
import dev.sluice.linux.JavaCommand;

import java.util.ArrayList;
import java.util.List;

/** Runs {@link AgentMain} in a new JVM on the caller's class path, with a small heap: one agent per node. */
public final class JvmAgentLauncher implements AgentLauncher {
    /** The code cache of the node's long-running JVMs (agent, proxy): reserved, so only what is used is resident. */
    public static final String CODE_CACHE = "32m";

    @Override
    public List<String> command(Spec spec) {
        // Full tiered compilation (C2): unlike the short-lived JVMs JavaCommand is tuned for, an agent runs for
        // days and its change latency is set by compiled code.
        // A bounded code cache and two compiler threads keep C2's memory in check (RSS 140 MiB idle at 1,000 Services with a 16 MB cache;
        // the 32 MB below is reserved, and only what is compiled is resident: not re-measured yet).
        // No GC for code-cache growth: by default the JVM asks for one each time 15 % of the cache was filled
        // anew, and under the serial collector that is a full collection (nine of 56–194 ms, one of 0.8 s,
        // measured in the middle of map updates with a 16 MB cache). The agent's compiled code (about 10 MB at
        // 1,000 Services) fits in 32 MB; near full (10 % free) the JVM still collects unused code.
        List<String> options = new ArrayList<>(List.of("-Xmx96m", "-XX:TieredStopAtLevel=4", "-XX:ReservedCodeCacheSize=" + CODE_CACHE,
                "-XX:SweeperThreshold=100", "-XX:CICompilerCount=2"));
        // For tuning and benchmarks: more JVM options, after (so overriding) these.
        String extra = System.getenv("SLUICE_AGENT_JVM_OPTS");
        if (extra != null && !extra.isBlank()) {
            options.addAll(List.of(extra.trim().split("\\s+")));
        }
        return JavaCommand.of(AgentMain.class.getName(), options, argumentsOf(spec));
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
