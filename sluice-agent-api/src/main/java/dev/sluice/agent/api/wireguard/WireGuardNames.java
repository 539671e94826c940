package dev.sluice.agent.api.wireguard;

import dev.sluice.agent.api.NodeLayout;

import java.nio.file.Path;

/**
 * The names the agent's encryption and the CLI that inspects it share: one definition each.
 *
 * <p>In the lab a node's agent publishes its public key in the node's entry of the lab state; on Kubernetes it
 * would be the node annotation {@link #PUBLIC_KEY_ANNOTATION}, Cilium's way ({@code network.cilium.io/wg-pub-key}).
 */
public final class WireGuardNames {
    /** The node annotation holding the node's WireGuard public key (base64). */
    public static final String PUBLIC_KEY_ANNOTATION = "network.sluice.dev/wg-pub-key";
    /** One WireGuard device per node. */
    public static final String DEVICE = "sluice_wg0";
    /** The UDP port every node listens on (Cilium's). */
    public static final int PORT = 51871;
    /** The routing table that sends pod traffic for other nodes into the device (ProxyReplyRouting has 2004). */
    public static final String TABLE = "2010";
    /** The rule's priority: after the proxy's replies (9), before the main table (32766). */
    public static final String RULE_PRIORITY = "1000";
    /** The nftables table of the node: strict mode's drops, MSS clamping, proxy replies arriving decrypted. */
    public static final String NFT_TABLE = "sluice_wg";

    private WireGuardNames() {
    }

    /** The node's UAPI socket: wireguard-go's /var/run/wireguard, bind-mounted from the node's own directory. */
    public static Path socket(NodeLayout node) {
        return node.wireguardDir().resolve("sock").resolve(DEVICE + ".sock");
    }

    /** A file whose presence asks the node's agent to rotate its key ({@code sluice encrypt rotate-key}). */
    public static Path rotateRequest(NodeLayout node) {
        return node.wireguardDir().resolve("rotate");
    }
}
