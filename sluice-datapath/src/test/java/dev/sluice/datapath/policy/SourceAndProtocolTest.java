package dev.sluice.datapath.policy;

import dev.sluice.datapath.Cleanup;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.Frag4Key;
import dev.sluice.datapath.policy.PolicyStructs.Frag4L4;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.RingBufferReader;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.linux.NetNs;
import dev.sluice.testing.Names;
import dev.sluice.testing.RawSockets;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import dev.sluice.datapath.abi.Direction;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.abi.FlowEventType;
import dev.sluice.datapath.abi.FlowVerdict;
import dev.sluice.datapath.abi.Protocol;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.sluice.datapath.policy.PolicyTestMaps.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What policy's identities rest on, with the real programs on real packets between namespaces: source
 * verification, every IP protocol decided, fail closed on IPv6, fragments. Three pods X (.31), Y (.32) and
 * S (.33) routed by a node namespace as in {@link PodPolicyTest}; S runs the echo servers. Packets no
 * ordinary socket sends (a forged source, IP protocol 253, SCTP, a lone later fragment, an IPv6 frame)
 * come from raw sockets ({@link RawSockets}); protocol 253 and SCTP are received at S by raw sockets too.
 */
class SourceAndProtocolTest {
    // Wire values, from the ABI enums.
    private static final int DROP_FRAG_NOT_FOUND = DropReason.FRAG_NOT_FOUND.value();
    private static final int DROP_INVALID_SIP = DropReason.INVALID_SIP.value();
    private static final int DROP_INVALID_SMAC = DropReason.INVALID_SMAC.value();
    private static final int DROP_POLICY = DropReason.POLICY.value();
    private static final int DROP_UNKNOWN_L3 = DropReason.UNKNOWN_L3.value();
    private static final int EGRESS = Direction.EGRESS.value();
    private static final int INGRESS = Direction.INGRESS.value();
    private static final int SCTP = Protocol.SCTP.value();
    private static final int TCP = Protocol.TCP.value();
    private static final int UDP = Protocol.UDP.value();

    private static final String X = "198.51.100.31";
    private static final String Y = "198.51.100.32";
    private static final String S = "198.51.100.33";
    private static final int X_ID = 1031;
    private static final int Y_ID = 1032;
    private static final int S_ID = 1033;
    private static final int TCP_PORT = 8080;
    private static final int UDP_PORT = 5353;
    private static final int PROTO_253 = 253;

    private static final Cleanup cleanup = new Cleanup();
    private static BpfObject object;
    private static PolicyTestMaps maps;
    private static TypedMap<Frag4Key, Frag4L4> frags;
    private static NetNs node;
    private static PolicyPods.PodNs x;
    private static PolicyPods.PodNs y;
    private static PolicyPods.PodNs s;

    private final List<FlowEvent> events = new CopyOnWriteArrayList<>();
    private RingBufferReader<FlowEvent> reader;

    @BeforeAll
    static void setUp() {
        Privileged.require();
        try {
            object = cleanup.add(Programs.open(Programs.POD_POLICY).load());
            maps = new PolicyTestMaps(object);
            frags = object.map(PolicyStructs.MAP_FRAG).typed(Frag4Key.CODEC, Frag4L4.CODEC);
            node = cleanup.add(NetNs.create(Names.unique("spn")));
            node.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1").orThrow();
            x = PolicyPods.create(cleanup, node, object, "spx", X);
            y = PolicyPods.create(cleanup, node, object, "spy", Y);
            s = PolicyPods.create(cleanup, node, object, "sps", S);
            maps.ipcache(X, 32, X_ID);
            maps.ipcache(Y, 32, Y_ID);
            maps.ipcache(S, 32, S_ID);
            cleanup.add(new EchoServers(s.ns(), S, List.of(TCP_PORT), UDP_PORT));
        } catch (RuntimeException | Error e) {
            tearDown();
            throw e;
        }
    }

    @AfterAll
    static void tearDown() {
        cleanup.close();
    }

    @BeforeEach
    void reset() throws InterruptedException {
        Thread.sleep(100);
        maps.clearState();
        frags.keys().forEach(frags::delete);
        endpoint(x, X_ID, 31, X, false, false);
        endpoint(y, Y_ID, 32, Y, false, false);
        endpoint(s, S_ID, 33, S, false, false);
        object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(Aggregation.MEDIUM));
        reader = RingBufferReader.start(object.map(FlowStructs.MAP_EVENTS), FlowEvent.CODEC, events::add, 100_000);
    }

    @AfterEach
    void stop() {
        object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(Aggregation.DISABLED));
        if (reader != null) {
            reader.close();
        }
    }

    /** Endpoint {@code id} on pod p; default-deny rules are 100 + id (ingress) and 200 + id (egress). */
    private static void endpoint(PolicyPods.PodNs p, int identity, int id, String address, boolean in, boolean out) {
        endpoint(p, identity, id, address, in, out, 0);
    }

    private static void endpoint(PolicyPods.PodNs p, int identity, int id, String address, boolean in, boolean out, long mac) {
        maps.endpoints.update(p.ifindex(), new EndpointInfo(identity, id, in, out, 100 + id, 200 + id, ip(address), 0, mac));
    }

    /** The MAC of a device, as {@code ip -o link} prints it ({@code link/ether aa:bb:...}). */
    private static long mac(NetNs ns, String device) {
        String line = ns.ip("-o", "link", "show", "dev", device);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("link/ether ([0-9a-f:]{17})").matcher(line);
        assertTrue(m.find(), "no MAC in: " + line);
        return EndpointInfo.parseMac(m.group(1));
    }

    private static DropValue drops(int endpointId, int direction, int reason, int rule, int remote) {
        return maps.drops(endpointId, direction, reason, rule, remote);
    }

    private static void assertDropped(int packets, int endpointId, int direction, int reason, int rule, int remote) {
        DropValue v = drops(endpointId, direction, reason, rule, remote);
        assertTrue(v.packets() >= packets, packets + " drop(s) for endpoint " + endpointId + " dir " + direction + " reason " + reason
                + " rule " + rule + " remote " + remote + "; counters: " + maps.allDrops());
    }

    private static RawSockets raw(PolicyPods.PodNs p, int proto) {
        return p.ns().call(() -> RawSockets.ip(proto));
    }

    private static boolean connects(PolicyPods.PodNs from, String to, int port) {
        return from.ns().call(() -> {
            try (Socket sock = new Socket()) {
                sock.connect(new InetSocketAddress(to, port), 500);
                return true;
            } catch (java.io.IOException e) {
                return false;
            }
        });
    }

    // ---- source verification

    @Test
    void aSynWithAnotherPodsSourceIsDroppedAtTheSendersVethAndReported() throws InterruptedException {
        int sport = 40_001;
        try (RawSockets rawX = raw(x, RawSockets.IPPROTO_RAW)) {
            byte[] syn = RawSockets.ipv4(ip(Y), ip(S), TCP, 0x5151, 0, RawSockets.tcpSyn(ip(Y), ip(S), sport, TCP_PORT, 1));
            rawX.sendTo(ip(S), syn);
        }
        Thread.sleep(300);
        assertDropped(1, 31, EGRESS, DROP_INVALID_SIP, 0, S_ID);
        assertTrue(maps.ct(Y, S, sport, TCP_PORT, TCP, INGRESS).isEmpty(), "S never saw Y's forged SYN: " + maps.ct.entries());
        assertTrue(maps.ct(Y, S, sport, TCP_PORT, TCP, EGRESS).isEmpty(), "and X's egress tracked nothing in Y's name");
        FlowEvent e = awaitEvent(ev -> ev.reason() == DROP_INVALID_SIP);
        assertEquals(FlowEventType.DROP.value(), e.type());
        assertEquals(FlowVerdict.DROPPED.value(), e.verdict());
        assertEquals(FlowStructs.ipv4(ip(Y)), e.saddr(), "the address it claimed");
        assertEquals(FlowStructs.ipv4(ip(S)), e.daddr());
        assertEquals(sport, e.sport());
        assertEquals(TCP_PORT, e.dport());
        assertEquals(x.ifindex(), e.ifindex(), "seen on X's veth");
        assertEquals(X_ID, e.srcIdentity(), "named by the veth it came from, not by the address it forged");
        assertEquals(S_ID, e.dstIdentity());

        assertTrue(connects(x, S, TCP_PORT), "X's own packets still pass");
        assertTrue(connects(y, S, TCP_PORT), "and Y's");
    }

    @Test
    void aFrameWithAnotherSourceMacIsDroppedAndReportedWhileThePodsOwnFramesPass() throws InterruptedException {
        long xMac = mac(x.ns(), "eth0");
        String hostVeth = node.ip("-o", "link").lines().filter(l -> l.startsWith(x.ifindex() + ": ")).findFirst()
                .orElseThrow().split(": ")[1].split("@")[0];
        long gatewayMac = mac(node, hostVeth);
        long forged = xMac ^ 0x0000_0000_0101L;
        endpoint(x, X_ID, 31, X, false, false, xMac);
        x.ns().ip("neigh", "flush", "all");
        node.ip("neigh", "flush", "all");
        assertTrue(connects(x, S, TCP_PORT), "X's own traffic (ARP included) passes with its MAC checked");

        int xEth0 = x.ns().ifindex("eth0");
        try (RawSockets atX = x.ns().call(RawSockets::packet); RawSockets atS = raw(s, UDP)) {
            byte[] own = "mac-own".getBytes(StandardCharsets.UTF_8);
            atX.sendFrame(xEth0, udpFrame(gatewayMac, xMac, 40_101, own));
            assertTrue(atS.receives(own, 1000), "a hand-made frame with X's own MAC reaches S");
            byte[] forgedMarker = "mac-forged".getBytes(StandardCharsets.UTF_8);
            atX.sendFrame(xEth0, udpFrame(gatewayMac, forged, 40_102, forgedMarker));
            assertFalse(atS.receives(forgedMarker, 500), "the same frame from another MAC is dropped");
        }
        assertDropped(1, 31, EGRESS, DROP_INVALID_SMAC, 0, S_ID);
        assertEquals(0, drops(31, EGRESS, DROP_INVALID_SIP, 0, S_ID).packets(), "its IPv4 source was X's own");
        assertTrue(maps.ct(X, S, 40_102, UDP_PORT, UDP, EGRESS).isEmpty(), "nothing tracked for the dropped frame");
        assertTrue(maps.ct(X, S, 40_101, UDP_PORT, UDP, EGRESS).isPresent(), "the frame with X's MAC was tracked");
        FlowEvent e = awaitEvent(ev -> ev.reason() == DROP_INVALID_SMAC);
        assertEquals(FlowVerdict.DROPPED.value(), e.verdict());
        assertEquals(FlowStructs.ipv4(ip(X)), e.saddr());
        assertEquals(40_102, e.sport());
        assertEquals(UDP_PORT, e.dport());
        assertEquals(x.ifindex(), e.ifindex());
        assertEquals(X_ID, e.srcIdentity());

        endpoint(x, X_ID, 31, X, false, false, 0);
        try (RawSockets atX = x.ns().call(RawSockets::packet); RawSockets atS = raw(s, UDP)) {
            byte[] unchecked = "mac-unchecked".getBytes(StandardCharsets.UTF_8);
            atX.sendFrame(xEth0, udpFrame(gatewayMac, forged, 40_103, unchecked));
            assertTrue(atS.receives(unchecked, 1000), "an endpoint whose MAC is unknown (0) is not checked");
        }
    }

    /** An Ethernet frame dst <- src carrying a UDP datagram X:sport -> S:UDP_PORT (no UDP checksum) with marker. */
    private static byte[] udpFrame(long dst, long src, int sport, byte[] marker) {
        byte[] udp = ByteBuffer.allocate(8 + marker.length).putShort((short) sport).putShort((short) UDP_PORT)
                .putShort((short) (8 + marker.length)).putShort((short) 0).put(marker).array();
        byte[] packet = RawSockets.ipv4(ip(X), ip(S), UDP, 0x4d41, 0, udp);
        ByteBuffer b = ByteBuffer.allocate(14 + packet.length);
        b.putShort((short) (dst >>> 32)).putInt((int) dst).putShort((short) (src >>> 32)).putInt((int) src).putShort((short) 0x0800);
        return b.put(packet).array();
    }

    @Test
    void arpKeepsWorkingOnEndpointsThatEnforceBothWays() {
        endpoint(s, S_ID, 33, S, true, true);
        maps.allow(33, INGRESS, X_ID, TCP, TCP_PORT, 501);
        s.ns().ip("neigh", "flush", "all");
        node.ip("neigh", "flush", "all");
        assertTrue(connects(x, S, TCP_PORT), "X -> S:8080 after both neighbour caches were flushed");
        assertTrue(maps.allDrops().isEmpty(), "nothing dropped: " + maps.allDrops());
    }

    // ---- every protocol

    @Test
    void protocol253AndSctpAreDecidedByPolicy() throws InterruptedException {
        endpoint(s, S_ID, 33, S, true, false);
        maps.allow(33, INGRESS, X_ID, 0, 0, 501);            // X: a rule without toPorts (L3 only)
        maps.allow(33, INGRESS, Y_ID, TCP, TCP_PORT, 502);    // Y: TCP 8080 only
        byte[] marker253 = "proto-253".getBytes(StandardCharsets.UTF_8);
        try (RawSockets at253 = raw(s, PROTO_253); RawSockets atSctp = raw(s, SCTP);
             RawSockets x253 = raw(x, PROTO_253); RawSockets y253 = raw(y, PROTO_253);
             RawSockets xSctp = raw(x, SCTP); RawSockets ySctp = raw(y, SCTP)) {
            x253.sendTo(ip(S), marker253);
            assertTrue(at253.receives(marker253, 1000), "X's protocol 253 reaches S (L3-only allow)");
            Ct4Entry e = maps.ct(X, S, 0, 0, PROTO_253, INGRESS).orElseThrow(() -> new AssertionError("CT: " + maps.ct.entries()));
            assertEquals(501, e.ruleId());

            y253.sendTo(ip(S), marker253);
            assertFalse(at253.receives(marker253, 500), "Y's protocol 253 is dropped: Y's rule names TCP 8080 only");
            assertDropped(1, 33, INGRESS, DROP_POLICY, 133, Y_ID);
            assertTrue(maps.ct(Y, S, 0, 0, PROTO_253, INGRESS).isEmpty(), "no CT entry for a dropped packet");

            byte[] sctpX = sctp(5001, 7777, "sctp-x");
            xSctp.sendTo(ip(S), sctpX);
            assertTrue(atSctp.receives("sctp-x".getBytes(StandardCharsets.UTF_8), 1000), "X's SCTP reaches S");
            assertEquals(501, maps.ct(X, S, 5001, 7777, SCTP, INGRESS).orElseThrow().ruleId(), "SCTP tracked with its ports");

            ySctp.sendTo(ip(S), sctp(5002, 7777, "sctp-y1"));
            assertFalse(atSctp.receives("sctp-y1".getBytes(StandardCharsets.UTF_8), 500), "Y's SCTP is dropped");
            maps.allow(33, INGRESS, Y_ID, SCTP, 7777, 503);
            ySctp.sendTo(ip(S), sctp(5002, 7777, "sctp-y2"));
            assertTrue(atSctp.receives("sctp-y2".getBytes(StandardCharsets.UTF_8), 1000), "Y's SCTP to 7777 once allowed");
            assertEquals(503, maps.ct(Y, S, 5002, 7777, SCTP, INGRESS).orElseThrow().ruleId());
            ySctp.sendTo(ip(S), sctp(5002, 7778, "sctp-y3"));
            assertFalse(atSctp.receives("sctp-y3".getBytes(StandardCharsets.UTF_8), 500), "but not to 7778");
        }
        assertTrue(drops(33, INGRESS, DROP_POLICY, 133, Y_ID).packets() >= 3, "253, SCTP 7777 before the allow, SCTP 7778: "
                + maps.allDrops());
    }

    /** An SCTP common header (the checksum left 0: only the raw sockets read these) and a marker. */
    private static byte[] sctp(int sport, int dport, String marker) {
        byte[] m = marker.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(12 + m.length).putShort((short) sport).putShort((short) dport).putInt(0x01020304).putInt(0)
                .put(m).array();
    }

    // ---- fragments

    @Test
    void aFragmentedDatagramPassesWholeOrIsDroppedWhole() throws InterruptedException {
        endpoint(s, S_ID, 33, S, true, false);
        maps.allow(33, INGRESS, X_ID, UDP, UDP_PORT, 601);

        Udp xs = udp(x, 4000);
        assertEquals(X + ":" + xs.localPort(), xs.reply(), "X's 4,000-byte datagram (3 fragments over MTU 1500) is answered");
        Ct4Entry e = maps.ct(X, S, xs.localPort(), UDP_PORT, UDP, INGRESS).orElseThrow();
        assertEquals(601, e.ruleId());
        assertEquals(3, e.txPackets(), "every fragment went through the flow's CT entry");
        Map<Frag4Key, Frag4L4> known = frags.entries();
        assertTrue(known.keySet().stream().anyMatch(k -> k.source().equals(ip(X)) && k.destination().equals(ip(S)) && k.proto() == UDP),
                "the first fragment left its ports: " + known);

        Udp ys = udp(y, 4000);
        assertEquals("timeout", ys.reply(), "Y's datagram is dropped");
        assertDropped(3, 33, INGRESS, DROP_POLICY, 133, Y_ID);
        assertTrue(maps.ct(Y, S, ys.localPort(), UDP_PORT, UDP, INGRESS).isEmpty());

        // A later fragment whose first fragment never came: S enforces, so it fails closed.
        try (RawSockets rawX = raw(x, RawSockets.IPPROTO_RAW)) {
            rawX.sendTo(ip(S), RawSockets.ipv4(ip(X), ip(S), UDP, 0x7777, 185, new byte[64]));
        }
        Thread.sleep(300);
        assertDropped(1, 33, INGRESS, DROP_FRAG_NOT_FOUND, 133, X_ID);
        assertEquals(0, drops(31, EGRESS, DROP_FRAG_NOT_FOUND, 231, S_ID).packets(), "X enforces nothing: its egress let it pass");
    }

    record Udp(String reply, int localPort) {
    }

    private static Udp udp(PolicyPods.PodNs from, int size) {
        return from.ns().call(() -> {
            try (DatagramSocket sock = new DatagramSocket()) {
                sock.setSoTimeout(500);
                byte[] big = new byte[size];
                sock.send(new DatagramPacket(big, big.length, new InetSocketAddress(S, UDP_PORT)));
                DatagramPacket reply = new DatagramPacket(new byte[512], 512);
                try {
                    sock.receive(reply);
                    return new Udp(new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8), sock.getLocalPort());
                } catch (SocketTimeoutException e) {
                    return new Udp("timeout", sock.getLocalPort());
                }
            }
        });
    }

    // ---- IPv6

    @Test
    void ipv6FailsClosedOnEndpointsWithEnforcementAndPassesElsewhere() throws InterruptedException {
        byte[] marker = "ipv6-frame".getBytes(StandardCharsets.UTF_8);
        // AF_PACKET sockets receive from every device of their namespace: a pod has eth0 (and lo).
        endpoint(s, S_ID, 33, S, true, false);
        try (RawSockets fromNode = node.call(RawSockets::packet); RawSockets atY = y.ns().call(RawSockets::packet);
             RawSockets atS = s.ns().call(RawSockets::packet)) {
            fromNode.sendFrame(y.ifindex(), ipv6Frame(marker));
            assertTrue(atY.receives(marker, 1000), "into Y, which enforces nothing, IPv6 passes untouched");
            fromNode.sendFrame(s.ifindex(), ipv6Frame(marker));
            assertFalse(atS.receives(marker, 500), "into S, which enforces ingress, IPv6 is dropped");
        }
        assertDropped(1, 33, INGRESS, DROP_UNKNOWN_L3, 133, 0);

        endpoint(x, X_ID, 31, X, false, true);
        int xEth0 = x.ns().ifindex("eth0");
        try (RawSockets atX = x.ns().call(RawSockets::packet)) {
            atX.sendFrame(xEth0, ipv6Frame(marker));
        }
        Thread.sleep(300);
        assertDropped(1, 31, EGRESS, DROP_UNKNOWN_L3, 231, 0);
        // The test's frames only (source fe80::1): the kernel's own IPv6 (a router solicitation from an interface's
        // autoconfigured link-local address) is dropped alike and may come first.
        java.util.function.Predicate<FlowEvent> ours = ev -> ev.isIpv6()
                && java.util.HexFormat.of().formatHex(ev.saddr6()).equals("fe800000000000000000000000000001");
        FlowEvent e = awaitEvent(ev -> ev.reason() == DROP_UNKNOWN_L3 && ev.ifindex() == x.ifindex() && ours.test(ev));
        assertEquals(X_ID, e.srcIdentity());
        // Both drops report the frame's IPv6 addresses and ports, not 0.0.0.0.
        FlowEvent in = awaitEvent(ev -> ev.reason() == DROP_UNKNOWN_L3 && ev.ifindex() == s.ifindex() && ours.test(ev));
        for (FlowEvent ev : List.of(e, in)) {
            assertTrue(ev.isIpv6(), "an IPv6 drop says so: " + ev);
            assertEquals("fe800000000000000000000000000001", java.util.HexFormat.of().formatHex(ev.saddr6()));
            assertEquals("ff020000000000000000000000000001", java.util.HexFormat.of().formatHex(ev.daddr6()));
            assertEquals(0, ev.saddr(), "no IPv4 address");
            assertEquals(UDP, ev.proto());
            assertEquals(1000, ev.sport());
            assertEquals(1001, ev.dport());
        }
        assertEquals(Direction.INGRESS.value(), in.direction());
    }

    /** An Ethernet frame with an IPv6 UDP datagram, fe80::1 -> ff02::1, carrying marker. */
    private static byte[] ipv6Frame(byte[] marker) {
        ByteBuffer b = ByteBuffer.allocate(14 + 40 + 8 + marker.length);
        b.put(new byte[] {0x33, 0x33, 0, 0, 0, 1}).put(new byte[] {2, 0, 0, 0, 0, 0x31}).putShort((short) 0x86dd);
        b.putInt(0x60000000).putShort((short) (8 + marker.length)).put((byte) 17).put((byte) 255);
        b.put(new byte[] {(byte) 0xfe, (byte) 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        b.put(new byte[] {(byte) 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        b.putShort((short) 1000).putShort((short) 1001).putShort((short) (8 + marker.length)).putShort((short) 0);
        b.put(marker);
        return b.array();
    }

    private FlowEvent awaitEvent(java.util.function.Predicate<FlowEvent> p) throws InterruptedException {
        for (int i = 0; i < 40; i++) {
            for (FlowEvent e : events) {
                if (p.test(e)) {
                    return e;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no such event among " + events);
    }
}
