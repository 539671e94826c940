package dev.sluice.agent.api;

import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;

/**
 * How an agent process is started: the agent module provides it (a {@link ServiceLoader} service), so
 * that whoever starts agents (the lab, later an installer) needs neither the agent's classes nor its main
 * class's name, only the agent on the class path.
 */
public interface AgentLauncher {

    /**
     * What one agent is to run.
     *
     * @param source the cluster source's name ("lab"), as its {@code ClusterSource.Provider} is registered
     * @param layout the node the agent serves and where it keeps its pins, sockets and status
     * @param cgroup the cgroup (v2) whose sockets the node's socket-level load balancing serves
     * @param valuesFile the Helm-style values the cluster was made with, or null for the defaults
     */
    record Spec(String source, NodeLayout layout, Path cgroup, Path valuesFile) {
    }

    /** The command line that runs the agent of {@code spec} in a new process (in the caller's network namespace). */
    List<String> command(Spec spec);

    /** The launcher of the agent on the class path. */
    static AgentLauncher find() {
        return ServiceLoader.load(AgentLauncher.class).findFirst()
                .orElseThrow(() -> new IllegalStateException("no Sluice agent on the class path (sluice-agent provides "
                        + AgentLauncher.class.getName() + ")"));
    }
}
