package dev.sluice.agent.api;

import java.nio.file.Path;

/**
 * What the agents of one cluster share on a machine: a directory for status, sockets and identities, and
 * a root for their pins. Two clusters on one machine (two labs) never share either.
 *
 * @param cluster the cluster's name (a lab's name)
 * @param stateDir the directory the cluster's agents share
 */
public record ClusterLayout(String cluster, Path stateDir) {
    /** The port of each agent's Prometheus endpoint, on 127.0.0.1 of its node: Hubble's metrics port. */
    public static final int METRICS_PORT = 9965;

    /** Where the agents pin their BPF maps and links: one directory per node below it. */
    public Path pinRoot() {
        return Path.of("/sys/fs/bpf/sluice", cluster);
    }

    /** The cluster's security identities, shared by every node's agent (see {@link Identities}). */
    public Path identities() {
        return stateDir.resolve("identities.json");
    }

    public NodeLayout node(String node) {
        return new NodeLayout(this, node);
    }
}
