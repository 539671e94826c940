package dev.sluice.agent.routing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HexFormat;
import java.util.List;

/**
 * The node's VXLAN device and what each remote node needs on it, flannel's way: a device without learning, and per
 * remote node one FDB entry (its device's MAC to its node address), one permanent neighbour (a gateway address, the
 * network address of its pod CIDR, to that MAC) and one route (its pod CIDR via that gateway, onlink).
 *
 * <p>Why not Cilium's external (collect-metadata) device: there the datapath picks each packet's remote node with
 * {@code bpf_skb_set_tunnel_key}, which needs a program on the egress path of every pod packet leaving the node. Sluice's
 * programs sit on the pod veths and do not route; with explicit entries the kernel's own routing and VXLAN driver do
 * the whole job, the entries can be listed with {@code ip}/{@code bridge}, and a node joining or leaving is three
 * entries. The sender's identity is not carried in the header (Cilium puts it in the VNI): the receiving node finds
 * it in its ipcache, which holds every pod of every node, because pod addresses cross the tunnel unchanged.
 *
 * <p>Each device's MAC is derived from its node's address ({@link #mac}), so a node knows every other node's MAC
 * without publishing anything.
 */
final class TunnelDevice {
    static final String NAME = "sluice_vxlan";
    /** One VNI for the whole cluster (flannel's): identities come from the ipcache, not the header. */
    static final int VNI = 1;
    /** VXLAN's overhead on an IPv4 underlay: outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14. */
    static final int OVERHEAD = 50;

    private static final ObjectMapper JSON = new ObjectMapper();

    private TunnelDevice() {
    }

    /** The MAC of the tunnel device of the node at {@code nodeAddress}: locally administered, unicast, {@code 0e:53:} and the address. */
    static String mac(String nodeAddress) {
        byte[] a = ipv4(nodeAddress);
        return "0e:53:" + HexFormat.ofDelimiter(":").formatHex(a);
    }

    /** The next hop that stands for a remote node on the tunnel: the network address of its pod CIDR (flannel's choice). */
    static String gateway(String podCidr) {
        String[] parts = podCidr.split("/");
        int prefix = Integer.parseInt(parts[1]);
        byte[] a = ipv4(parts[0]);
        int v = ((a[0] & 0xff) << 24) | ((a[1] & 0xff) << 16) | ((a[2] & 0xff) << 8) | (a[3] & 0xff);
        int mask = prefix == 0 ? 0 : -1 << (32 - prefix);
        v &= mask;
        return ((v >>> 24) & 0xff) + "." + ((v >>> 16) & 0xff) + "." + ((v >>> 8) & 0xff) + "." + (v & 0xff);
    }

    /**
     * Makes the device if it is missing, or remakes it if it was made with another VNI, port or local address (its
     * entries go with it); sets its MAC and MTU and brings it up.
     *
     * @return the MTU it has: the uplink's (the device holding {@code localAddress}) less {@link #OVERHEAD}
     */
    static int ensure(IpBatch ip, String localAddress, int port) {
        if (ip.ipSucceeds("link", "show", "dev", NAME)) {
            JsonNode info = first(ip.ipQuery("-j", "-d", "link", "show", "dev", NAME)).path("linkinfo");
            JsonNode data = info.path("info_data");
            boolean same = info.path("info_kind").asText().equals("vxlan") && data.path("id").asInt() == VNI
                    && data.path("port").asInt() == port && data.path("local").asText().equals(localAddress);
            if (!same) {
                ip.ip(List.of("link del " + NAME));
            }
        }
        int mtu = uplinkMtu(ip, localAddress) - OVERHEAD;
        if (!ip.ipSucceeds("link", "show", "dev", NAME)) {
            ip.ip(List.of("link add " + NAME + " type vxlan id " + VNI + " local " + localAddress + " dstport " + port + " nolearning"));
        }
        ip.ip(List.of("link set " + NAME + " address " + mac(localAddress) + " mtu " + mtu + " up"));
        return mtu;
    }

    /** Removes the device (routing went native); its neighbours, FDB entries and routes go with it. */
    static boolean removeIfPresent(IpBatch ip) {
        if (ip.ipSucceeds("link", "show", "dev", NAME)) {
            ip.ip(List.of("link del " + NAME));
            return true;
        }
        return false;
    }

    /** The MTU of the interface holding {@code localAddress}; 1500 if none does (Ethernet's). */
    private static int uplinkMtu(IpBatch ip, String localAddress) {
        for (JsonNode link : parse(ip.ipQuery("-j", "-4", "addr", "show"))) {
            for (JsonNode a : link.path("addr_info")) {
                if (a.path("local").asText().equals(localAddress)) {
                    return link.path("mtu").asInt(1500);
                }
            }
        }
        return 1500;
    }

    static JsonNode parse(String json) {
        try {
            return json.isBlank() ? JSON.createArrayNode() : JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot read iproute2's JSON: " + e.getMessage(), e);
        }
    }

    private static JsonNode first(String json) {
        JsonNode n = parse(json);
        return n.isArray() && !n.isEmpty() ? n.get(0) : JSON.createObjectNode();
    }

    static byte[] ipv4(String address) {
        if (!address.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            throw new IllegalArgumentException("'" + address + "' is not an IPv4 address");
        }
        try {
            return InetAddress.getByName(address).getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + address + "' is not an IPv4 address", e);
        }
    }
}
