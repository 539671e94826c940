package dev.sluice.e2e;

import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.e2e.PodProbe.Outcome;
import dev.sluice.lab.Lab;
import dev.sluice.linux.NetNs;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.RawSockets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What policy's identities rest on, in a two-node lab with real pods (docs/datapath.md): protocols without
 * ports and SCTP decided by policy, fragmented datagrams judged whole, and a flood of new connections from one
 * pod leaving another pod's established connection working. The policy: web accepts anything from client (a
 * rule without toPorts) and only TCP 8080 from api.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DatapathSecurityLabTest {
    private static final int PROTO_253 = 253;
    private static final int SCTP = 132;
    private static final String POLICY = """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-in}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: client}}]
              - fromEndpoints: [{matchLabels: {app: api}}]
                toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
            """;

    private Lab lab;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("s");
        Path pods = Path.of(DatapathSecurityLabTest.class.getResource("/policy-lab.yaml").toURI());
        lab.up(2, ManifestReader.read(List.of(pods)), null);
        Path file = Files.createTempDirectory("datapath-security").resolve("web-in.yaml");
        Files.writeString(file, POLICY);
        Desired policy = ManifestReader.read(List.of(file));
        lab.apply(policy);
    }

    @AfterAll
    void down() throws Exception {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    private NetNs netns(String pod) {
        return NetNs.existing(lab.pod("deploy/" + pod).netns());
    }

    private Inet4Address ip(String pod) {
        try {
            return (Inet4Address) InetAddress.getByName(lab.pod("deploy/" + pod).ip());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static RawSockets raw(NetNs ns, int proto) {
        return ns.call(() -> RawSockets.ip(proto));
    }

    /** An SCTP common header (checksum 0: only raw sockets read it) and a marker. */
    private static byte[] sctp(int sport, int dport, String marker) {
        byte[] m = marker.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(12 + m.length).putShort((short) sport).putShort((short) dport).putInt(0x01020304).putInt(0)
                .put(m).array();
    }

    @Test
    void protocol253AndSctpArriveFromTheL3OnlyAllowedPodAndNotFromTheOther() {
        Inet4Address web = ip("web");
        try (RawSockets at253 = raw(netns("web"), PROTO_253); RawSockets atSctp = raw(netns("web"), SCTP);
             RawSockets client253 = raw(netns("client"), PROTO_253); RawSockets api253 = raw(netns("api"), PROTO_253);
             RawSockets clientSctp = raw(netns("client"), SCTP); RawSockets apiSctp = raw(netns("api"), SCTP)) {
            byte[] fromClient = "253-from-client".getBytes(StandardCharsets.UTF_8);
            byte[] fromApi = "253-from-api".getBytes(StandardCharsets.UTF_8);
            client253.sendTo(web, fromClient);
            assertTrue(at253.receives(fromClient, 2000), "client's protocol 253 reaches web (a rule without toPorts)");
            api253.sendTo(web, fromApi);
            assertFalse(at253.receives(fromApi, 1000), "api's protocol 253 does not (its rule names TCP 8080 only)");
            clientSctp.sendTo(web, sctp(5001, 7777, "sctp-from-client"));
            assertTrue(atSctp.receives("sctp-from-client".getBytes(StandardCharsets.UTF_8), 2000), "client's SCTP reaches web");
            apiSctp.sendTo(web, sctp(5002, 7777, "sctp-from-api"));
            assertFalse(atSctp.receives("sctp-from-api".getBytes(StandardCharsets.UTF_8), 1000), "api's SCTP does not");
        }
    }

    /** The MAC {@code ip -o link show dev DEVICE} prints in a namespace of the lab. */
    private static long mac(String netns, String device) {
        String out = dev.sluice.linux.Command.run("nsenter", "--net=/run/netns/" + netns, "ip", "-o", "link", "show", "dev", device);
        var m = java.util.regex.Pattern.compile("link/ether ([0-9a-f:]{17})").matcher(out);
        assertTrue(m.find(), "no MAC in: " + out);
        return EndpointInfo.parseMac(m.group(1));
    }

    /** An Ethernet frame dst <- src with a UDP datagram from -> to:5353 (no UDP checksum) carrying marker. */
    private static byte[] udpFrame(long dst, long src, Inet4Address from, Inet4Address to, int sport, byte[] marker) {
        byte[] udp = ByteBuffer.allocate(8 + marker.length).putShort((short) sport).putShort((short) 5353)
                .putShort((short) (8 + marker.length)).putShort((short) 0).put(marker).array();
        byte[] packet = RawSockets.ipv4(from, to, 17, sport, 0, udp);
        ByteBuffer b = ByteBuffer.allocate(14 + packet.length);
        b.putShort((short) (dst >>> 32)).putInt((int) dst).putShort((short) (src >>> 32)).putInt((int) src).putShort((short) 0x0800);
        return b.put(packet).array();
    }

    @Test
    void aFrameFromAForgedSourceMacIsDroppedAndObserveSaysWhy() throws Exception {
        var client = lab.pod("deploy/client");
        String nodeNetns = lab.state().node(client.node()).orElseThrow().netns();
        long own = mac(client.netns(), "eth0");
        assertEquals(EndpointInfo.parseMac(client.mac()), own, "the lab recorded the MAC the pod's veth was made with");
        long gateway = mac(nodeNetns, client.hostVeth());
        long forged = own ^ 0x0000_0000_0202L;
        Inet4Address from = ip("client");
        Inet4Address web = ip("web");
        byte[] ownMarker = "smac-own".getBytes(StandardCharsets.UTF_8);
        byte[] forgedMarker = "smac-forged".getBytes(StandardCharsets.UTF_8);
        NetNs clientNs = netns("client");
        int eth0 = clientNs.ifindex("eth0");
        try (RawSockets atWeb = raw(netns("web"), 17); RawSockets fromClient = clientNs.call(RawSockets::packet)) {
            fromClient.sendFrame(eth0, udpFrame(gateway, own, from, web, 41_001, ownMarker));
            assertTrue(atWeb.receives(ownMarker, 2000), "a hand-made frame from client's own MAC reaches web (client may send it anything)");
            fromClient.sendFrame(eth0, udpFrame(gateway, forged, from, web, 41_002, forgedMarker));
            assertFalse(atWeb.receives(forgedMarker, 1000), "the same frame from a forged source MAC does not");
        }
        assertEquals(Outcome.CONNECTED, PodProbe.tcp(clientNs, web.getHostAddress(), 8080, 2000), "client's own traffic still passes");

        List<dev.sluice.observe.v1.Flow> drops = List.of();
        for (int i = 0; i < 20 && drops.isEmpty(); i++) {
            Thread.sleep(250);
            CliRun observe = CliRun.of(lab, "observe", "--verdict", "DROPPED", "--last", "1000", "-o", "json");
            assertEquals(0, observe.exit(), observe.err());
            drops = observe.flows().stream().filter(f -> f.getDropReason() == DropReason.INVALID_SMAC.value()).toList();
        }
        assertEquals(1, drops.size(), "one flow for the forged frame: " + drops);
        var f = drops.getFirst();
        assertEquals(from.getHostAddress(), f.getIP().getSource());
        assertEquals(web.getHostAddress(), f.getIP().getDestination());
        assertEquals(client.name(), f.getSource().getPodName(), "named by the veth it came from");
        CliRun compact = CliRun.of(lab, "observe", "--verdict", "DROPPED", "--last", "1000", "--from-pod", client.namespace() + "/" + client.name());
        assertTrue(compact.out().contains("DROPPED (Invalid source mac"), compact.out());
    }

    /** A 4,000-byte datagram (three fragments over the pods' 1,500-byte MTU) to web's UDP echo: answered or not. */
    private Outcome bigDatagram(String from) {
        String to = lab.pod("deploy/web").ip();
        return netns(from).call(() -> {
            try (DatagramSocket s = new DatagramSocket()) {
                s.setSoTimeout(1500);
                s.connect(new InetSocketAddress(to, 5353));
                byte[] big = new byte[4000];
                s.send(new DatagramPacket(big, big.length));
                s.receive(new DatagramPacket(new byte[8192], 8192));
                return Outcome.CONNECTED;
            } catch (SocketTimeoutException e) {
                return Outcome.DROPPED;
            }
        });
    }

    @Test
    void aFragmentedDatagramPassesWholeWhereAllowedAndNotWhereDenied() {
        assertEquals(Outcome.CONNECTED, bigDatagram("client"), "client's 4,000-byte datagram is answered");
        assertEquals(Outcome.DROPPED, bigDatagram("api"), "api's is dropped (UDP is not in its rule)");
    }

    /**
     * A UDP datagram over IPv6 from the pod's node (a lab namespace) to the pod's link-local address on its
     * echo port, sent out of the node's end of the pod's veth, where the pod's ingress programs run: answered or not.
     */
    private Outcome ipv6Datagram(String to) {
        var pod = lab.pod("deploy/" + to);
        // Asked of `ip` in the pod's namespace: the JDK reads IPv6 addresses from /proc/net, which is the test
        // process's namespace, not the calling thread's.
        String out = dev.sluice.linux.Command.run("nsenter", "--net=/run/netns/" + pod.netns(), "ip", "-o", "-6", "addr", "show",
                "dev", "eth0", "scope", "link");
        var m = java.util.regex.Pattern.compile("inet6 (fe80:[0-9a-f:]+)/").matcher(out);
        assertTrue(m.find(), to + " has no IPv6 link-local address (the test cannot send IPv6): " + out);
        byte[] linkLocal;
        try {
            linkLocal = InetAddress.getByName(m.group(1)).getAddress();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String node = lab.state().node(pod.node()).orElseThrow().netns();
        return NetNs.existing(node).call(() -> {
            int scope = dev.sluice.linux.Libc.ifNameToIndex(pod.hostVeth());
            assertTrue(scope > 0, "no interface " + pod.hostVeth() + " on " + node);
            var target = java.net.Inet6Address.getByAddress(null, linkLocal, scope);
            // Five tries: a new pod's link-local address is tentative (duplicate address detection) for a second
            // or two, and the first datagram waits for neighbour discovery.
            try (DatagramSocket s = new DatagramSocket()) {
                s.setSoTimeout(1000);
                byte[] hello = "ipv6".getBytes(StandardCharsets.UTF_8);
                for (int i = 0; i < 5; i++) {
                    s.send(new DatagramPacket(hello, hello.length, new InetSocketAddress(target, 5353)));
                    try {
                        s.receive(new DatagramPacket(new byte[8192], 8192));
                        return Outcome.CONNECTED;
                    } catch (SocketTimeoutException e) {
                        // not answered (yet)
                    }
                }
                return Outcome.DROPPED;
            }
        });
    }

    @Test
    void ipv6ToAnEnforcedPodIsDroppedAndReachesAPodWithoutPolicy() throws Exception {
        // api has no policy: IPv6 passes untouched, and its echo server (on the dual-stack wildcard) answers.
        assertEquals(Outcome.CONNECTED, ipv6Datagram("api"), "IPv6 reaches a pod no policy selects");
        // web is under ingress enforcement: IPv6 is not decided by policy yet, so it is dropped (fail closed).
        assertEquals(Outcome.DROPPED, ipv6Datagram("web"), "IPv6 to an enforced pod is dropped");

        // Its flows carry the real IPv6 addresses (not 0.0.0.0): what the node sent towards web's link-local address
        // (neighbour solicitations to its solicited-node group, which the drop leaves unanswered, and the datagram
        // if one got through), from the node's link-local address. IPv4 flows stay as they were.
        byte[] web6 = linkLocal("web").getAddress();
        InetAddress solicited = InetAddress.getByAddress(new byte[] {(byte) 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (byte) 0xff,
                web6[13], web6[14], web6[15]});
        List<dev.sluice.observe.v1.Flow> drops = List.of();
        for (int i = 0; i < 20 && drops.isEmpty(); i++) {
            Thread.sleep(250);
            CliRun observe = CliRun.of(lab, "observe", "--verdict", "DROPPED", "--last", "1000", "-o", "json");
            assertEquals(0, observe.exit(), observe.err());
            drops = observe.flows().stream().filter(f -> f.getDropReason() == DropReason.UNKNOWN_L3.value()).toList();
        }
        assertFalse(drops.isEmpty(), "the IPv6 drops are flows");
        for (var f : drops) {
            assertEquals(dev.sluice.observe.v1.IPVersion.IPv6, f.getIP().getIpVersion(), f.toString());
            assertTrue(f.getIP().getSource().startsWith("fe80:"), "sent from the node's link-local address: " + f.getIP());
        }
        InetAddress webAddress = InetAddress.getByAddress(web6);
        assertTrue(drops.stream().anyMatch(f -> {
            try {
                InetAddress to = InetAddress.getByName(f.getIP().getDestination());
                return to.equals(solicited) || to.equals(webAddress);
            } catch (IOException e) {
                return false;
            }
        }), "towards web: " + drops.stream().map(f -> f.getIP().toString()).toList());
        System.out.println("[DatapathSecurityLabTest] IPv6 drops: " + drops.stream().map(f -> f.getIP().getSource() + " -> "
                + f.getIP().getDestination() + " " + f.getL4().getProtocolCase()).distinct().toList());
        CliRun compact = CliRun.of(lab, "observe", "--verdict", "DROPPED", "--last", "1000", "--from-ip", "fe80::/10");
        assertEquals(0, compact.exit(), compact.err());
        System.out.println("[DatapathSecurityLabTest] sluice observe --from-ip fe80::/10:\n" + compact.out());
        assertTrue(compact.out().lines().anyMatch(l -> l.contains("fe80:") && l.contains("Unsupported L3 protocol")), compact.out());
        CliRun v4 = CliRun.of(lab, "observe", "--last", "1000", "-o", "json", "--ip", lab.pod("deploy/web").ip());
        assertTrue(v4.flows().stream().allMatch(f -> f.getIP().getIpVersion() == dev.sluice.observe.v1.IPVersion.IPv4),
                "web's IPv4 flows say IPv4");
    }

    /** A pod's IPv6 link-local address, asked of `ip` in its namespace. */
    private InetAddress linkLocal(String pod) throws IOException {
        String out = dev.sluice.linux.Command.run("nsenter", "--net=/run/netns/" + lab.pod("deploy/" + pod).netns(), "ip", "-o", "-6",
                "addr", "show", "dev", "eth0", "scope", "link");
        var m = java.util.regex.Pattern.compile("inet6 (fe80:[0-9a-f:]+)/").matcher(out);
        assertTrue(m.find(), out);
        return InetAddress.getByName(m.group(1));
    }

    @Test
    void aFloodOfNewConnectionsFromOnePodLeavesAnotherPodsEstablishedConnectionWorking() throws Exception {
        String web = lab.pod("deploy/web").ip();
        try (Socket kept = netns("api").call(() -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(web, 8080), 2000);
            s.setSoTimeout(3000);
            return s;
        })) {
            assertTrue(get(kept, web).startsWith("HTTP/1.1 200"), "api's keep-alive connection to web works");
            // 100,000 connection attempts from client: SYNs from fresh ports (web answers each, client's
            // kernel resets it), so each is a new flow in the conntrack of web's node.
            Inet4Address from = ip("client");
            Inet4Address to = ip("web");
            long start = System.nanoTime();
            netns("client").call(() -> {
                try (RawSockets rawSyn = RawSockets.ip(RawSockets.IPPROTO_RAW)) {
                    for (int i = 0; i < 100_000; i++) {
                        int sport = 1024 + i % 64_000;
                        rawSyn.sendTo(to, RawSockets.ipv4(from, to, 6, i & 0xffff, 0, RawSockets.tcpSyn(from, to, sport, 8080, i)));
                    }
                }
                return null;
            });
            System.out.printf("[DatapathSecurityLabTest] 100,000 SYNs from client to web in %.1f s%n", (System.nanoTime() - start) / 1e9);
            Thread.sleep(1000);
            assertTrue(get(kept, web).startsWith("HTTP/1.1 200"), "api's established connection still works after the flood");
        }
        assertEquals(Outcome.CONNECTED, PodProbe.tcp(netns("api"), web, 8080, 2000), "and new ones open");
    }

    @Test
    void answeredConnectionsAsFastAsAPodOpensThemShowInStatusAndMetricsAndOthersStillConnect() throws Exception {
        String web = lab.pod("deploy/web").ip();
        var client = lab.pod("deploy/client");
        String clientPod = client.namespace() + "/" + client.name();
        List<Socket> open = new java.util.ArrayList<>();
        try {
            // Kept open, so that their conntrack entries are established (a closed one lives 10 s) when the agent recounts.
            netns("client").run(() -> {
                for (int i = 0; i < 2000; i++) {
                    Socket s = new Socket();
                    open.add(s);
                    try {
                        s.connect(new InetSocketAddress(web, 8080), 2000);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException("connection " + i, e);
                    }
                }
            });
            assertEquals(Outcome.CONNECTED, PodProbe.tcp(netns("api"), web, 8080, 2000), "api's new connections still open");
            // The agents recount each endpoint's entries every 5 s.
            var held = java.util.regex.Pattern.compile("most held by [^;]*" + java.util.regex.Pattern.quote(clientPod) + " \\((\\d+)\\)");
            String conntrack = "";
            int count = 0;
            for (int i = 0; i < 60 && count < 2000; i++) {
                Thread.sleep(250);
                CliRun status = CliRun.of(lab, "status");
                assertEquals(0, status.exit(), status.err());
                conntrack = status.lines().stream().filter(l -> l.contains("Conntrack:")).reduce("", (a, b) -> a + b + "\n");
                var m = held.matcher(conntrack);
                count = m.find() ? Integer.parseInt(m.group(1)) : 0;
            }
            System.out.println("[DatapathSecurityLabTest] sluice status with 2,000 answered connections open from client:\n" + conntrack);
            assertTrue(conntrack.contains("% full") && conntrack.contains("per-endpoint limit 65536 established"), conntrack);
            assertTrue(count >= 2000, "client's endpoint is named as holding its 2,000 established entries: " + conntrack);
            CliRun metrics = CliRun.of(lab, "metrics");
            assertEquals(0, metrics.exit(), metrics.err());
            List<String> perEndpoint = metrics.out().lines().filter(l -> l.startsWith("sluice_conntrack_endpoint_entries{")
                    && l.contains(clientPod)).toList();
            assertEquals(1, perEndpoint.size(), "per-endpoint conntrack in the metrics: " + perEndpoint);
            assertTrue(Double.parseDouble(perEndpoint.getFirst().substring(perEndpoint.getFirst().lastIndexOf(' ') + 1)) >= 2000,
                    perEndpoint.getFirst());
        } finally {
            for (Socket s : open) {
                s.close();
            }
        }
    }

    /** One keep-alive GET on an open connection: the status line of its answer (the body is read and dropped). */
    private static String get(Socket s, String host) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        int contentLength = 0;
        String line;
        while (!(line = readLine(in)).isEmpty()) {
            head.append(line).append('\n');
            if (line.toLowerCase().startsWith("content-length:")) {
                contentLength = Integer.parseInt(line.substring(15).strip());
            }
        }
        in.readNBytes(contentLength);
        return head.toString();
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            if (c != '\r') {
                b.append((char) c);
            }
        }
        if (c == -1 && b.isEmpty()) {
            throw new IOException("connection closed");
        }
        return b.toString();
    }
}
