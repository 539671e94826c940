package dev.sluice.agent.l7;

import dev.sluice.agent.policy.PolicyDatapath;
import dev.sluice.linux.Command;
import dev.sluice.linux.LinuxException;

import java.util.Optional;

/**
 * What identity-preserving forwarding needs from the node (docs/l7.md, "Identity-preserving forwarding"): the node
 * proxy connects to backends from its clients' own addresses (IP_TRANSPARENT), so the backends' replies are
 * addressed to client pods. The datapath marks those that belong to a proxy socket ({@code SLUICE_MARK_TO_PROXY},
 * bpf/include/sluice_common.h: on pod veths in {@code policy_from_pod}, on the uplink in
 * {@code proxy_reply_uplink}), and one policy routing rule sends marked packets to a table whose only route
 * delivers everything locally, as Cilium does for its proxy (`ip rule fwmark 0x200 lookup 2005`). A rule and a
 * route, not iptables: nothing else is matched or rewritten.
 */
public final class ProxyReplyRouting {
    /** skb->mark of a reply to the proxy's client-source connection; SLUICE_MARK_TO_PROXY in the datapath. */
    public static final String MARK = "0x5348a1f1";
    /** The routing table holding {@code local 0.0.0.0/0 dev lo}. */
    public static final String TABLE = "2004";
    /** The rule's priority: before the main table (32766). */
    static final String PRIORITY = "9";

    private ProxyReplyRouting() {
    }

    /**
     * Installs the rule and the route in this network namespace (idempotent) and attaches the uplink program.
     * Empty when done; else why not, for status (the proxy then forwards from the node's address, as before).
     */
    public static Optional<String> install(PolicyDatapath datapath, String uplink) {
        try {
            Command.run("ip", "-4", "route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table", TABLE);
            if (!Command.run("ip", "-4", "rule", "show", "priority", PRIORITY).contains("fwmark " + MARK)) {
                Command.run("ip", "-4", "rule", "add", "priority", PRIORITY, "fwmark", MARK, "lookup", TABLE);
            }
            datapath.attachUplink(uplink);
            return Optional.empty();
        } catch (LinuxException | IllegalStateException e) {
            return Optional.of("identity-preserving forwarding unavailable, proxied connections come from the node: "
                    + e.getMessage());
        }
    }
}
