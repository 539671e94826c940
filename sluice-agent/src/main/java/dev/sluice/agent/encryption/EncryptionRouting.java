package dev.sluice.agent.encryption;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.wireguard.WireGuardNames;
import dev.sluice.linux.Command;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * How pod traffic for other nodes enters WireGuard, in the agent's network namespace (the node's), without
 * touching the main table, which the routing subsystem owns:
 *
 * <ul>
 *   <li>one rule, {@code from LOCAL_POD_CIDR lookup 2010} (priority 1000): pod traffic is looked up in the
 *       encryption table first; what it has no route for falls through to the main table;</li>
 *   <li>table 2010: each remote node's pod CIDR via {@code sluice_wg0}, for the nodes that are WireGuard peers;</li>
 *   <li>nftables table {@code inet sluice_wg}: with strict mode, pod traffic to another node's pod CIDR that would
 *       leave by any other device is dropped and counted ({@code strict_drops}) in the forward and output hooks,
 *       whatever the routes say (a node without a key, wireguard-go gone and its device with it); TCP SYNs into the
 *       device get their MSS clamped to its MTU (the pods' veths have 1500, WireGuard 1420); and decrypted replies
 *       to the node proxy's transparent sockets get the proxy's mark, which {@code proxy_reply_uplink} gives them
 *       on the uplink (a TUN device carries no Ethernet header, which that program expects).</li>
 * </ul>
 */
final class EncryptionRouting {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String localCidr;
    private Set<String> routed = null;
    private String nftInForce = null;

    EncryptionRouting(String localCidr) {
        this.localCidr = localCidr;
    }

    /** Adds the rule unless it is there (a restarted agent finds it). */
    void ensureRule() {
        String rules = Command.run("ip", "-4", "rule", "show", "priority", WireGuardNames.RULE_PRIORITY);
        if (!rules.contains("lookup " + WireGuardNames.TABLE)) {
            Command.run("ip", "-4", "rule", "add", "priority", WireGuardNames.RULE_PRIORITY, "from", localCidr,
                    "lookup", WireGuardNames.TABLE);
        }
    }

    /** Makes table 2010 route exactly {@code cidrs} via the device (read back from the kernel on the first call). */
    void route(Set<String> cidrs) throws IOException {
        Set<String> current = routed != null ? routed : tableRoutes();
        for (String gone : current) {
            if (!cidrs.contains(gone)) {
                Command.exec(List.of("ip", "-4", "route", "del", gone, "table", WireGuardNames.TABLE));
            }
        }
        for (String cidr : cidrs) {
            if (!current.contains(cidr) || routed == null) {
                Command.run("ip", "-4", "route", "replace", cidr, "dev", WireGuardNames.DEVICE, "table", WireGuardNames.TABLE);
            }
        }
        routed = new TreeSet<>(cidrs);
    }

    /** Forgets what it routed: the device went away with its routes, so everything is written again. */
    void deviceGone() {
        routed = null;
    }

    /** The destinations table 2010 routes now. */
    static Set<String> tableRoutes() throws IOException {
        Set<String> out = new TreeSet<>();
        var shown = Command.exec(List.of("ip", "-4", "-j", "route", "show", "table", WireGuardNames.TABLE));
        if (!shown.ok() && shown.stderr().contains("does not exist")) {
            return out; // the kernel makes a table with its first route
        }
        String json = shown.orThrow().stdout();
        if (json.isBlank()) {
            return out;
        }
        for (JsonNode r : JSON.readTree(json)) {
            String dst = r.path("dst").asText();
            out.add(dst.contains("/") ? dst : dst + "/32");
        }
        return out;
    }

    /** Writes the nftables table when what it holds changes, atomically ({@code nft -f}: add, delete, make again). */
    void filter(Set<String> remoteCidrs, boolean strict, String proxyMark) throws IOException {
        StringBuilder nft = new StringBuilder();
        nft.append("table inet ").append(WireGuardNames.NFT_TABLE).append(" {}\n");
        nft.append("delete table inet ").append(WireGuardNames.NFT_TABLE).append("\n");
        nft.append("table inet ").append(WireGuardNames.NFT_TABLE).append(" {\n");
        nft.append("  counter strict_drops {}\n");
        nft.append("  chain proxy_replies {\n    type filter hook prerouting priority mangle;\n");
        nft.append("    iifname \"").append(WireGuardNames.DEVICE).append("\" socket transparent 1 meta mark set ").append(proxyMark).append("\n  }\n");
        String drop = strict && !remoteCidrs.isEmpty()
                ? "    ip saddr " + localCidr + " ip daddr { " + String.join(", ", remoteCidrs) + " } oifname != \""
                        + WireGuardNames.DEVICE + "\" counter name strict_drops drop\n"
                : "";
        nft.append("  chain forwarding {\n    type filter hook forward priority filter;\n");
        nft.append("    oifname \"").append(WireGuardNames.DEVICE).append("\" tcp flags syn tcp option maxseg size set rt mtu\n");
        nft.append(drop).append("  }\n");
        nft.append("  chain sent {\n    type filter hook output priority filter;\n");
        nft.append("    oifname \"").append(WireGuardNames.DEVICE).append("\" tcp flags syn tcp option maxseg size set rt mtu\n");
        nft.append(drop).append("  }\n}\n");
        String text = nft.toString();
        if (text.equals(nftInForce)) {
            return;
        }
        Path file = Files.createTempFile("sluice-wg", ".nft");
        try {
            Files.writeString(file, text);
            Command.run("nft", "-f", file.toString());
        } finally {
            Files.deleteIfExists(file);
        }
        nftInForce = text;
    }

    /** Packets strict mode dropped on this node, from the nftables counter; -1 when it cannot be read. */
    static long strictDrops() {
        try {
            var result = Command.exec(List.of("nft", "-j", "list", "counter", "inet", WireGuardNames.NFT_TABLE, "strict_drops"));
            if (!result.ok()) {
                return -1;
            }
            for (JsonNode n : JSON.readTree(result.stdout()).path("nftables")) {
                if (n.has("counter")) {
                    return n.path("counter").path("packets").asLong();
                }
            }
        } catch (IOException | RuntimeException e) {
            // reported as unknown
        }
        return -1;
    }

    /** Removes the rule, the table's routes and the nftables table (encryption turned off). */
    static void removeAll() {
        Command.exec(List.of("ip", "-4", "rule", "del", "priority", WireGuardNames.RULE_PRIORITY));
        Command.exec(List.of("ip", "-4", "route", "flush", "table", WireGuardNames.TABLE));
        Command.exec(List.of("nft", "delete", "table", "inet", WireGuardNames.NFT_TABLE));
    }

    static List<String> asList(Set<String> s) {
        return new ArrayList<>(s);
    }
}
