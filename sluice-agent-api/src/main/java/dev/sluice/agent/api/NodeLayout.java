package dev.sluice.agent.api;

import java.nio.file.Path;

/**
 * Where the agent of one node keeps what others read: its pinned maps and links, its Observer socket and
 * its status file. The agent writes there; the CLI, the lab and the benchmarks read there, through this
 * record only, so that each path is defined once.
 */
public record NodeLayout(ClusterLayout cluster, String node) {

    /** The node's pins: {@code maps/} and {@code links/} below it. */
    public Path pinDir() {
        return cluster.pinRoot().resolve(node);
    }

    public Path maps() {
        return pinDir().resolve("maps");
    }

    public Path links() {
        return pinDir().resolve("links");
    }

    /** The unix socket on which the node's agent serves Hubble's Observer API. */
    public Path observerSocket() {
        return cluster.stateDir().resolve("hubble").resolve(node + ".sock");
    }

    /** The unix socket on which the node's agent serves its L7 proxy's control channel. */
    public Path proxyControlSocket() {
        return cluster.stateDir().resolve("proxy").resolve(node + ".control.sock");
    }

    /** The node's L7 proxy's output, next to the agent's log the lab keeps ({@code logs/agent-NODE.log}). */
    public Path proxyLog() {
        return cluster.stateDir().resolve("logs").resolve("proxy-" + node + ".log");
    }

    /**
     * The unix socket on which the node's agent serves Envoy v3 xDS (ADS) to the node's L7 proxy (or a stock
     * Envoy), node id = the node's name.
     */
    public Path xdsSocket() {
        return cluster.stateDir().resolve("proxy").resolve(node + ".xds.sock");
    }

    /**
     * The xDS the node's proxy holds, as Envoy's admin {@code /config_dump} JSON; the proxy replaces it (atomically)
     * whenever what it holds changes; {@code sluice proxy config} prints it.
     */
    public Path proxyConfigDump() {
        return cluster.stateDir().resolve("proxy").resolve(node + ".config_dump.json");
    }

    /**
     * The unix socket on which the node's agent serves the CNI plugin ({@code sluice-cni}'s {@code agentSocket}): address
     * allocation and endpoint registration.
     */
    public Path cniSocket() {
        return cluster.stateDir().resolve("cni").resolve(node + ".sock");
    }

    /**
     * The unix socket on which the node's agent takes the cluster DNS server's reports of its node's pods' queries
     * (one {@link DnsExchange} JSON line each), which it turns into L7 DNS flows.
     */
    public Path dnsFeedSocket() {
        return cluster.stateDir().resolve("dns").resolve(node + ".sock");
    }

    /** The node's pod address allocations (the agent's IPAM), written atomically before the plugin is answered. */
    public Path ipamState() {
        return cluster.stateDir().resolve("cni").resolve(node + ".ipam.json");
    }

    /**
     * The node's WireGuard state (root only): {@code private.key} (0600, kept across agent restarts), the directory
     * wireguard-go's UAPI socket is bound into ({@code sock/sluice_wg0.sock}), and the daemon's PID file.
     */
    public Path wireguardDir() {
        return cluster.stateDir().resolve("wireguard").resolve(node);
    }

    /** The node's agent status (see {@link AgentStatus}), replaced atomically at every change and heartbeat. */
    public Path statusFile() {
        return cluster.stateDir().resolve("agents").resolve(node + ".json");
    }
}
