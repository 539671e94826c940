package dev.sluice.datapath.policy;

import dev.sluice.datapath.Cleanup;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.CtFlag;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.abi.EndpointFlag;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheKey;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.linux.NetNs;
import dev.sluice.policy.ReservedIdentity;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.sluice.datapath.abi.Direction.EGRESS;
import static dev.sluice.datapath.abi.Direction.INGRESS;
import static dev.sluice.datapath.abi.Protocol.ICMP;
import static dev.sluice.datapath.abi.Protocol.TCP;
import static dev.sluice.datapath.abi.Protocol.UDP;
import static dev.sluice.datapath.policy.PolicyStructs.CT_LIFETIME_CLOSE_NS;
import static dev.sluice.datapath.policy.PolicyStructs.CT_LIFETIME_SYN_NS;
import static dev.sluice.datapath.policy.PolicyStructs.CT_LIFETIME_TCP_NS;
import static dev.sluice.datapath.policy.PolicyTestMaps.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Network policy with the real programs on real packets. A "node" namespace routes between three pod
 * namespaces, X (198.51.100.11), Y (.12) and S (.13), each joined to it by a veth as the lab does it
 * (a /32 behind 169.254.1.1), and an "outside" namespace (192.0.2.2, .77, .78 and 203.0.113.5) on a
 * fourth veth. policy_from_pod and policy_to_pod sit on every pod's node-side veth (tcx; no LB programs),
 * and the maps are written by hand through the Java mirrors, as the agent would. Every pod runs echo
 * servers on TCP 8080 and 9090 and UDP 5353. Clients are plain sockets made on a thread inside a pod's
 * namespace; a dropped SYN shows as a connect() that times out (after a short timeout).
 */
class PodPolicyTest {
    private static final int TCP_PORT = 8080;
    private static final int OTHER_TCP_PORT = 9090;
    private static final int UDP_PORT = 5353;
    private static final int CLOSED_UDP_PORT = 5999;
    private static final int REFUSED_MS = 300;
    private static final int CIDR_IDENTITY = (1 << 24) | 1;
    private static final int OTHER_IDENTITY = 4242;
    private static final String CIDR_ADDRESS = "192.0.2.77";
    private static final String OTHER_ADDRESS = "192.0.2.78";
    private static final String WORLD_ADDRESS = "203.0.113.5";

    record Pod(String name, NetNs ns, String address, int ifindex, int identity, int endpointId) {
    }

    private static final Cleanup cleanup = new Cleanup();
    private static PolicyTestMaps maps;
    private static NetNs node;
    private static NetNs outside;
    private static Pod x;
    private static Pod y;
    private static Pod s;

    @BeforeAll
    static void setUp() {
        Privileged.require();
        try {
            BpfObject object = cleanup.add(Programs.open(Programs.POD_POLICY).load());
            maps = new PolicyTestMaps(object);
            node = cleanup.add(NetNs.create(Names.unique("ppn")));
            node.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1").orThrow();
            x = pod(object, "x", "198.51.100.11", 1011, 11);
            y = pod(object, "y", "198.51.100.12", 1012, 12);
            s = pod(object, "s", "198.51.100.13", 1013, 13);

            outside = cleanup.add(NetNs.create(Names.unique("ppo")));
            String nodeDev = Names.unique("vpo");
            node.ip("link", "add", nodeDev, "type", "veth", "peer", "name", "eth0", "netns", outside.name());
            node.ip("addr", "add", "192.0.2.1/24", "dev", nodeDev);
            node.ip("link", "set", nodeDev, "up");
            node.ip("route", "add", "203.0.113.0/24", "via", "192.0.2.2");
            for (String a : List.of("192.0.2.2/24", CIDR_ADDRESS + "/24", OTHER_ADDRESS + "/24", WORLD_ADDRESS + "/32")) {
                outside.ip("addr", "add", a, "dev", "eth0");
            }
            outside.ip("link", "set", "eth0", "up");
            outside.ip("route", "add", "198.51.100.0/24", "via", "192.0.2.1");

            for (Pod p : List.of(x, y, s)) {
                maps.ipcache(p.address(), 32, p.identity());
                cleanup.add(new EchoServers(p.ns(), p.address(), List.of(TCP_PORT, OTHER_TCP_PORT), UDP_PORT));
            }
            maps.ipcache("192.0.2.0", 24, CIDR_IDENTITY);
            maps.ipcache(OTHER_ADDRESS, 32, OTHER_IDENTITY);
        } catch (RuntimeException | Error e) {
            tearDown();
            throw e;
        }
    }

    /** A pod namespace with a veth into the node, both policy programs on the node's end. */
    private static Pod pod(BpfObject object, String name, String address, int identity, int endpointId) {
        PolicyPods.PodNs p = PolicyPods.create(cleanup, node, object, "pp" + name, address);
        return new Pod(name, p.ns(), address, p.ifindex(), identity, endpointId);
    }

    @AfterAll
    static void tearDown() {
        cleanup.close();
    }

    /** Every test starts with no policy, no enforcement, an empty CT and no drops. */
    @BeforeEach
    void reset() throws InterruptedException {
        // The last packets of the previous test's connections (a server's FIN just after its client closed)
        // may still be in flight: let them pass while their conntrack entries exist, or a test that enforces
        // policy from its first line would count them as drops of its own (seen once in CI).
        Thread.sleep(100);
        maps.clearState();
        for (Pod p : List.of(x, y, s)) {
            endpoint(p, false, false, 0, 0, 0);
        }
    }

    private static void endpoint(Pod p, boolean enforceIngress, boolean enforceEgress, int defaultDenyIngressRule,
                                 int defaultDenyEgressRule, int flags) {
        maps.endpoints.update(p.ifindex(), new EndpointInfo(p.identity(), p.endpointId(), enforceIngress, enforceEgress,
                defaultDenyIngressRule, defaultDenyEgressRule, ip(p.address()), flags));
    }

    // ---- clients

    /** How one TCP.value() connection ended: connected (and greeted), or not, from which local port. */
    record Conn(boolean connected, int localPort, String outcome) {
    }

    private static Conn tcp(NetNs from, String source, String address, int port) {
        return from.call(() -> {
            try (Socket sock = new Socket()) {
                // Bound first, so that the local port is known even when connect() fails (and closes it).
                sock.bind(new InetSocketAddress(source != null ? source : "0.0.0.0", 0));
                int localPort = sock.getLocalPort();
                try {
                    sock.connect(new InetSocketAddress(address, port), REFUSED_MS);
                } catch (SocketTimeoutException e) {
                    return new Conn(false, localPort, "timeout");
                }
                sock.setSoTimeout(2000);
                String hello = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.UTF_8)).readLine();
                return new Conn(true, sock.getLocalPort(), hello);
            } catch (IOException e) {
                return new Conn(false, -1, e.toString());
            }
        });
    }

    private static Conn tcp(Pod from, Pod to, int port) {
        return tcp(from.ns(), null, to.address(), port);
    }

    private static void assertConnects(Conn c, String what) {
        assertTrue(c.connected(), what + " connects: " + c.outcome());
    }

    private static void assertRefused(Conn c, String what) {
        assertEquals("timeout", c.outcome(), what + " is dropped, so connect() times out");
    }

    /** A TCP.value() connection kept open, to send lines the server echoes. */
    static final class Held implements AutoCloseable {
        final Socket socket;
        final BufferedReader in;
        final OutputStream out;

        Held(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            this.out = socket.getOutputStream();
            socket.setSoTimeout(2000);
            String hello = in.readLine();
            assertTrue(hello != null && hello.startsWith("HELLO "), "greeting: " + hello);
        }

        /** Sends a line; the echo, or "timeout". */
        String echo(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            try {
                return in.readLine();
            } catch (SocketTimeoutException e) {
                return "timeout";
            }
        }

        int localPort() {
            return socket.getLocalPort();
        }

        /** The next line, waiting up to {@code ms} (a retransmission after a drop comes after its back-off); or "timeout". */
        String next(int ms) throws IOException {
            socket.setSoTimeout(ms);
            try {
                return in.readLine();
            } catch (SocketTimeoutException e) {
                return "timeout";
            } finally {
                socket.setSoTimeout(2000);
            }
        }

        /**
         * An orderly close: our FIN, then the peer's FIN (acknowledged by the kernel at once), then close. No
         * packet of this connection is left in flight for the next test, which starts from an empty CT.
         */
        @Override
        public void close() throws IOException {
            try {
                socket.shutdownOutput();
                while (socket.getInputStream().read() >= 0) {
                    // drain to the peer's FIN
                }
            } catch (IOException ignored) {
                // a reset or a timeout: the connection is gone either way
            } finally {
                socket.close();
            }
        }
    }

    private static Held hold(Pod from, Pod to, int port) {
        return from.ns().call(() -> {
            Socket sock = new Socket();
            sock.connect(new InetSocketAddress(to.address(), port), 2000);
            return new Held(sock);
        });
    }

    /** {@code n} datagrams from one socket: the replies ("timeout" for a missing one), and the local port. */
    record Udp(List<String> replies, int localPort) {
        String first() {
            return replies.getFirst();
        }
    }

    private static Udp udp(Pod from, Pod to, int port, int n) {
        return from.ns().call(() -> {
            try (DatagramSocket sock = new DatagramSocket()) {
                sock.setSoTimeout(REFUSED_MS);
                List<String> replies = new java.util.ArrayList<>();
                for (int i = 0; i < n; i++) {
                    byte[] ping = ("ping " + i).getBytes(StandardCharsets.UTF_8);
                    sock.send(new DatagramPacket(ping, ping.length, new InetSocketAddress(to.address(), port)));
                    DatagramPacket reply = new DatagramPacket(new byte[512], 512);
                    try {
                        sock.receive(reply);
                        replies.add(new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8));
                    } catch (SocketTimeoutException e) {
                        replies.add("timeout");
                    }
                }
                return new Udp(replies, sock.getLocalPort());
            }
        });
    }

    private static void assertDrops(int endpointId, int direction, int reason, int rule, int remote) {
        DropValue v = maps.drops(endpointId, direction, reason, rule, remote);
        assertTrue(v.packets() >= 1, "a drop counted for endpoint " + endpointId + " dir " + direction + " reason " + reason
                + " rule " + rule + " remote " + remote + "; counters: " + maps.allDrops());
        assertTrue(v.bytes() >= v.packets() * 42, "bytes counted: " + v);
    }

    private static Ct4Entry ctEntry(String source, String destination, int sourcePort, int destinationPort, int proto, int direction) {
        Optional<Ct4Entry> e = maps.ct(source, destination, sourcePort, destinationPort, proto, direction);
        assertTrue(e.isPresent(), "a CT entry " + source + ":" + sourcePort + " -> " + destination + ":" + destinationPort
                + " proto " + proto + " dir " + direction + "; entries: " + maps.ct.entries());
        return e.get();
    }

    private static boolean noCt(String source, String destination, int sourcePort, int destinationPort, int proto, int direction) {
        return maps.ct(source, destination, sourcePort, destinationPort, proto, direction).isEmpty();
    }

    // ---- (a)

    @Test
    void withoutEnforcementEverythingPasses() {
        Conn xs = tcp(x, s, TCP_PORT);
        assertConnects(xs, "X -> S:8080");
        assertEquals("HELLO " + x.address() + ":" + xs.localPort(), xs.outcome());
        assertConnects(tcp(y, s, OTHER_TCP_PORT), "Y -> S:9090");
        assertConnects(tcp(s, x, TCP_PORT), "S -> X:8080");
        assertConnects(tcp(outside, WORLD_ADDRESS, s.address(), TCP_PORT), "the world -> S:8080");
        Udp u = udp(x, s, UDP_PORT, 1);
        assertEquals(x.address() + ":" + u.localPort(), u.first());

        // Both ends keep their own entry of the X -> S flow: the server's ingress, the client's egress.
        Ct4Entry in = ctEntry(x.address(), s.address(), xs.localPort(), TCP_PORT, TCP.value(), INGRESS.value());
        assertEquals(INGRESS.value(), in.direction());
        assertEquals(x.identity(), in.srcIdentity());
        assertEquals(0, in.ruleId(), "no enforcement, no rule");
        Ct4Entry out = ctEntry(x.address(), s.address(), xs.localPort(), TCP_PORT, TCP.value(), EGRESS.value());
        assertEquals(EGRESS.value(), out.direction());
        assertEquals(x.identity(), out.srcIdentity(), "the client opened it");
        ctEntry(x.address(), s.address(), u.localPort(), UDP_PORT, UDP.value(), INGRESS.value());
        assertTrue(maps.allDrops().isEmpty(), "no drops: " + maps.allDrops());

        // A veth whose ifindex is no endpoint is left alone: no state for S's side.
        maps.endpoints.delete(s.ifindex());
        Conn again = tcp(x, s, TCP_PORT);
        assertConnects(again, "X -> S:8080 with S unknown");
        assertTrue(noCt(x.address(), s.address(), again.localPort(), TCP_PORT, TCP.value(), INGRESS.value()), "no ingress entry for an unknown endpoint");
        ctEntry(x.address(), s.address(), again.localPort(), TCP_PORT, TCP.value(), EGRESS.value());
    }

    // ---- (b)

    @Test
    void ingressDefaultDenyAdmitsOnlyWhatIsAllowed() {
        endpoint(s, true, false, 500, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), x.identity(), TCP.value(), TCP_PORT, 501);

        Conn xs = tcp(x, s, TCP_PORT);
        assertConnects(xs, "X -> S:8080 (allowed)");
        Ct4Entry e = ctEntry(x.address(), s.address(), xs.localPort(), TCP_PORT, TCP.value(), INGRESS.value());
        assertEquals(501, e.ruleId(), "the allow that admitted it");
        assertEquals(x.identity(), e.srcIdentity());

        Conn ys = tcp(y, s, TCP_PORT);
        assertRefused(ys, "Y -> S:8080");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 500, y.identity());
        assertTrue(noCt(y.address(), s.address(), ys.localPort(), TCP_PORT, TCP.value(), INGRESS.value()), "no entry for a dropped flow");
        // Y's own egress (not enforced) recorded its SYN: a SYN-only entry lives CT_LIFETIME_SYN_NS.
        Ct4Entry syn = ctEntry(y.address(), s.address(), ys.localPort(), TCP_PORT, TCP.value(), EGRESS.value());
        assertEquals(0, syn.flags(), "SYN only");
        long left = syn.lifetimeNs() - System.nanoTime();
        assertTrue(left > CT_LIFETIME_SYN_NS - 30_000_000_000L && left <= CT_LIFETIME_SYN_NS, "SYN lifetime, left " + left);

        assertRefused(tcp(x, s, OTHER_TCP_PORT), "X -> S:9090 (another port)");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 500, x.identity());
        assertEquals("timeout", udp(x, s, UDP_PORT, 1).first(), "X -> S UDP (another protocol)");

        assertConnects(tcp(s, y, TCP_PORT), "S's egress is not enforced, and Y's reply passes S's ingress");
    }

    // ---- (c)

    @Test
    void aDenyWinsOverAnAllowAndAppliesWithoutEnforcement() {
        endpoint(s, true, false, 600, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), x.identity(), TCP.value(), TCP_PORT, 601);
        maps.deny(s.endpointId(), INGRESS.value(), 0, TCP.value(), TCP_PORT, 602); // less specific than the allow, and still wins
        maps.allow(s.endpointId(), INGRESS.value(), 0, TCP.value(), OTHER_TCP_PORT, 603);
        maps.deny(s.endpointId(), INGRESS.value(), y.identity(), 0, 0, 604);

        assertRefused(tcp(x, s, TCP_PORT), "X -> S:8080 (allowed for X, denied for all)");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY_DENY.value(), 602, x.identity());
        assertRefused(tcp(y, s, OTHER_TCP_PORT), "Y -> S:9090 (allowed for all, denied for Y)");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY_DENY.value(), 604, y.identity());
        Conn xs = tcp(x, s, OTHER_TCP_PORT);
        assertConnects(xs, "X -> S:9090");
        assertEquals(603, ctEntry(x.address(), s.address(), xs.localPort(), OTHER_TCP_PORT, TCP.value(), INGRESS.value()).ruleId());

        endpoint(s, false, false, 600, 0, 0);
        assertRefused(tcp(y, s, TCP_PORT), "Y -> S:8080 without enforcement: denies still apply");
        // Both denies match; the more specific one ({Y,0,0} before {0,TCP,8080}) is named.
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY_DENY.value(), 604, y.identity());
        Conn free = tcp(x, s, OTHER_TCP_PORT);
        assertConnects(free, "X -> S:9090 without enforcement");
        assertEquals(0, ctEntry(x.address(), s.address(), free.localPort(), OTHER_TCP_PORT, TCP.value(), INGRESS.value()).ruleId(),
                "without enforcement no allow is named");
    }

    // ---- (d)

    @Test
    void wildcardIdentityProtocolAndPort() {
        endpoint(s, true, false, 700, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), 0, TCP.value(), OTHER_TCP_PORT, 701);  // anyone, TCP 9090
        maps.allow(s.endpointId(), INGRESS.value(), y.identity(), 0, 0, 702);      // Y, anything
        maps.allow(s.endpointId(), INGRESS.value(), x.identity(), UDP.value(), 0, 703);    // X, any UDP port

        Conn xs = tcp(x, s, OTHER_TCP_PORT);
        assertConnects(xs, "X -> S:9090 through {0,TCP,9090}");
        assertEquals(701, ctEntry(x.address(), s.address(), xs.localPort(), OTHER_TCP_PORT, TCP.value(), INGRESS.value()).ruleId());
        assertRefused(tcp(x, s, TCP_PORT), "X -> S:8080");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 700, x.identity());
        Udp xu = udp(x, s, UDP_PORT, 1);
        assertEquals(x.address() + ":" + xu.localPort(), xu.first(), "X -> S UDP through {X,UDP,0}");
        assertEquals(703, ctEntry(x.address(), s.address(), xu.localPort(), UDP_PORT, UDP.value(), INGRESS.value()).ruleId());

        Conn ys = tcp(y, s, OTHER_TCP_PORT);
        assertConnects(ys, "Y -> S:9090");
        assertEquals(702, ctEntry(y.address(), s.address(), ys.localPort(), OTHER_TCP_PORT, TCP.value(), INGRESS.value()).ruleId(),
                "{Y,0,0} is more specific than {0,TCP,9090}");
        assertConnects(tcp(y, s, TCP_PORT), "Y -> S:8080 through {Y,0,0}");
        Udp yu = udp(y, s, UDP_PORT, 1);
        assertEquals(y.address() + ":" + yu.localPort(), yu.first(), "Y -> S UDP through {Y,0,0}");
        assertRefused(tcp(outside, WORLD_ADDRESS, s.address(), TCP_PORT), "the world -> S:8080");

        maps.allow(s.endpointId(), INGRESS.value(), 0, 0, 0, 704);                   // anyone, anything
        Conn any = tcp(x, s, TCP_PORT);
        assertConnects(any, "X -> S:8080 through {0,0,0}");
        assertEquals(704, ctEntry(x.address(), s.address(), any.localPort(), TCP_PORT, TCP.value(), INGRESS.value()).ruleId());
        assertConnects(tcp(outside, WORLD_ADDRESS, s.address(), TCP_PORT), "the world -> S:8080 through {0,0,0}");
    }

    // ---- (e)

    @Test
    void repliesPassAClientThatEnforcesIngressWithoutAllows() throws IOException {
        endpoint(x, true, false, 800, 0, 0);
        try (Held h = hold(x, s, TCP_PORT)) {
            for (int i = 0; i < 3; i++) {
                assertEquals("line " + i, h.echo("line " + i), "S's replies reach X through its CT entry");
            }
        }
        assertRefused(tcp(y, x, TCP_PORT), "Y -> X:8080 is new, and X allows nothing");
        assertDrops(x.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 800, y.identity());
    }

    @Test
    void icmpErrorsAboutATrackedFlowPassAsRelated() {
        endpoint(x, true, false, 810, 0, 0);
        // S has nothing on CLOSED_UDP_PORT: its port unreachable must reach X although X allows nothing.
        String outcome = x.ns().call(() -> {
            try (DatagramSocket sock = new DatagramSocket()) {
                sock.setSoTimeout(1000);
                sock.connect(new InetSocketAddress(s.address(), CLOSED_UDP_PORT));
                byte[] ping = "ping".getBytes(StandardCharsets.UTF_8);
                sock.send(new DatagramPacket(ping, ping.length));
                sock.receive(new DatagramPacket(new byte[64], 64));
                return "answered";
            } catch (PortUnreachableException e) {
                return "unreachable";
            } catch (SocketTimeoutException e) {
                return "timeout";
            }
        });
        assertEquals("unreachable", outcome, "the ICMP error passes X's ingress as related to X's flow");
        assertTrue(maps.allDrops().isEmpty(), "nothing dropped: " + maps.allDrops());
    }

    @Test
    void icmpEchoIsDecidedByTypeAndItsReplyPassesThroughCt() {
        endpoint(s, true, false, 1400, 0, 0);
        endpoint(x, true, false, 1401, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), x.identity(), ICMP.value(), 8, 1402); // echo request only
        assertTrue(reachable(x, s, 2000), "X pings S, and the echo reply passes X's ingress");
        assertFalse(reachable(y, s, REFUSED_MS), "Y may not ping S");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 1400, y.identity());
        List<Map.Entry<Ct4Tuple, Ct4Entry>> icmp = maps.ct.entries().entrySet().stream()
                .filter(e -> e.getKey().proto() == ICMP.value() && e.getKey().direction() == INGRESS.value()
                        && e.getKey().source().equals(ip(x.address())))
                .toList();
        assertEquals(1, icmp.size(), "one ICMP flow into S: " + maps.ct.entries());
        assertEquals(0, icmp.getFirst().getKey().destinationPort(), "an echo request tuple is {id, 0}");
        assertEquals(1402, icmp.getFirst().getValue().ruleId());
        assertTrue(icmp.getFirst().getValue().rxPackets() >= 1, "the echo reply was counted");
    }

    private static boolean reachable(Pod from, Pod to, int timeoutMillis) {
        // As root the JDK sends an ICMP echo request from a raw socket made on this thread.
        return from.ns().call(() -> InetAddress.getByName(to.address()).isReachable(timeoutMillis));
    }

    // ---- (f)

    @Test
    void udpRequestsAndRepliesThroughCt() {
        endpoint(s, true, false, 900, 0, 0);
        endpoint(x, true, false, 902, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), x.identity(), UDP.value(), UDP_PORT, 901);

        Udp xu = udp(x, s, UDP_PORT, 3);
        assertEquals(List.of(x.address() + ":" + xu.localPort(), x.address() + ":" + xu.localPort(), x.address() + ":" + xu.localPort()),
                xu.replies(), "three requests, three replies (into X, which allows nothing new)");
        Ct4Entry in = ctEntry(x.address(), s.address(), xu.localPort(), UDP_PORT, UDP.value(), INGRESS.value());
        assertEquals(3, in.txPackets());
        assertEquals(3, in.rxPackets());
        assertEquals(901, in.ruleId());
        long left = in.lifetimeNs() - System.nanoTime();
        assertTrue(left > 0 && left <= PolicyStructs.CT_LIFETIME_NONTCP_NS, "UDP lifetime, left " + left);
        Ct4Entry out = ctEntry(x.address(), s.address(), xu.localPort(), UDP_PORT, UDP.value(), EGRESS.value());
        assertEquals(3, out.txPackets());
        assertEquals(3, out.rxPackets());

        assertEquals("timeout", udp(y, s, UDP_PORT, 1).first(), "Y -> S UDP");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 900, y.identity());
        assertEquals("timeout", udp(s, x, UDP_PORT, 1).first(), "S -> X UDP is new, not a reply");
        assertDrops(x.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 902, s.identity());
    }

    // ---- (g)

    @Test
    void egressPolicyOnTheClient() {
        endpoint(x, false, true, 0, 1000, 0);
        maps.allow(x.endpointId(), EGRESS.value(), s.identity(), TCP.value(), TCP_PORT, 1001);
        maps.deny(x.endpointId(), EGRESS.value(), y.identity(), 0, 0, 1002);

        Conn xs = tcp(x, s, TCP_PORT);
        assertConnects(xs, "X -> S:8080");
        Ct4Entry e = ctEntry(x.address(), s.address(), xs.localPort(), TCP_PORT, TCP.value(), EGRESS.value());
        assertEquals(1001, e.ruleId());
        assertEquals(x.identity(), e.srcIdentity());
        assertRefused(tcp(x, s, OTHER_TCP_PORT), "X -> S:9090");
        assertDrops(x.endpointId(), EGRESS.value(), DropReason.POLICY.value(), 1000, s.identity());
        assertRefused(tcp(x, y, TCP_PORT), "X -> Y:8080 (denied)");
        assertDrops(x.endpointId(), EGRESS.value(), DropReason.POLICY_DENY.value(), 1002, y.identity());
        assertEquals("timeout", udp(x, s, UDP_PORT, 1).first(), "X -> S UDP");

        // X's answers to connections it accepted are replies, whatever its egress policy says.
        assertConnects(tcp(s, x, TCP_PORT), "S -> X:8080");
        assertConnects(tcp(outside, CIDR_ADDRESS, x.address(), OTHER_TCP_PORT), "outside -> X:9090");
    }

    // ---- (h)

    @Test
    void failClosedDropsNewFlowsButNotEstablishedOnes() throws IOException {
        endpoint(s, false, false, 1100, 1101, 0);
        try (Held h = hold(x, s, TCP_PORT)) {
            assertEquals("before", h.echo("before"));
            endpoint(s, false, false, 1100, 1101, EndpointFlag.FAIL_CLOSED.value());
            assertEquals("after", h.echo("after"), "the established connection goes on");
            assertRefused(tcp(x, s, TCP_PORT), "a new X -> S:8080");
            assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 1100, x.identity());
            assertEquals("timeout", udp(s, x, UDP_PORT, 1).first(), "a new S -> X UDP flow");
            assertDrops(s.endpointId(), EGRESS.value(), DropReason.POLICY.value(), 1101, x.identity());
            assertEquals("still", h.echo("still"));
        }
    }

    // ---- (i)

    @Test
    void ctEntriesCountPacketsAndBytesAndFollowTcpState() throws Exception {
        int lines = 5;
        int port;
        try (Held h = hold(x, s, TCP_PORT)) {
            port = h.localPort();
            for (int i = 0; i < lines; i++) {
                assertEquals("count " + i, h.echo("count " + i));
            }
            Ct4Entry open = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
            assertTrue(open.has(CtFlag.SEEN_NON_SYN), "established: " + open);
            long left = open.lifetimeNs() - System.nanoTime();
            assertTrue(left > CT_LIFETIME_TCP_NS - 60_000_000_000L && left <= CT_LIFETIME_TCP_NS, "established lifetime, left " + left);
        }
        // The client closes first, the server answers with its own FIN.
        Ct4Entry in = null;
        for (int i = 0; i < 40; i++) {
            in = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
            if (in.has(CtFlag.RX_CLOSING, CtFlag.TX_CLOSING)) {
                break;
            }
            Thread.sleep(50);
        }
        Thread.sleep(100); // the last ACK
        in = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
        Ct4Entry out = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), EGRESS.value());
        assertTrue(in.has(CtFlag.RX_CLOSING, CtFlag.TX_CLOSING, CtFlag.SEEN_NON_SYN), "closed both ways: " + in);
        long left = in.lifetimeNs() - System.nanoTime();
        assertTrue(left > 0 && left <= CT_LIFETIME_CLOSE_NS, "closing lifetime, left " + left);
        assertEquals(INGRESS.value(), in.direction());
        assertEquals(x.identity(), in.srcIdentity(), "opened by X");
        assertEquals(x.identity(), out.srcIdentity(), "opened by X");
        // SYN, ACK, 5 lines, FIN, ACK of S's FIN at least one way; SYN-ACK, greeting, 5 echoes, FIN the other.
        assertTrue(in.txPackets() >= 2 + lines + 1, "X -> S packets: " + in);
        assertTrue(in.rxPackets() >= 2 + lines + 1, "S -> X packets: " + in);
        assertTrue(in.txBytes() >= in.txPackets() * 54, "Ethernet + IPv4 + TCP at least: " + in);
        assertTrue(in.rxBytes() >= in.rxPackets() * 54, "Ethernet + IPv4 + TCP at least: " + in);
        assertEquals(List.of(in.txPackets(), in.txBytes(), in.rxPackets(), in.rxBytes()),
                List.of(out.txPackets(), out.txBytes(), out.rxPackets(), out.rxBytes()),
                "both ends saw the same packets");
    }

    @Test
    void aTcpPacketWithoutSynAndWithoutCtIsDecidedAsANewFlow() throws IOException {
        try (Held h = hold(x, s, TCP_PORT)) {
            h.socket.setSoTimeout(500);
            int port = h.localPort();
            Ct4Tuple serverSide = new Ct4Tuple(ip(x.address()), ip(s.address()), port, TCP_PORT, TCP.value(), INGRESS.value());
            Ct4Tuple clientSide = new Ct4Tuple(ip(x.address()), ip(s.address()), port, TCP_PORT, TCP.value(), EGRESS.value());
            assertTrue(maps.ct.delete(serverSide) && maps.ct.delete(clientSide), "both entries existed");

            assertEquals("lost", h.echo("lost"), "allowed without enforcement");
            Ct4Entry again = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
            assertTrue(again.has(CtFlag.SEEN_NON_SYN), "recreated from a non-SYN: " + again);
            assertTrue(again.lifetimeNs() - System.nanoTime() > CT_LIFETIME_TCP_NS - 60_000_000_000L, "established lifetime");

            // S enforces both directions: with its egress open, S's own next segment (a retransmission of
            // an echo whose ACK the new ingress policy dropped) would open the flow the other way, and X's
            // packets would then be its replies, as in Cilium.
            endpoint(s, true, true, 1300, 1301, 0);
            maps.ct.delete(serverSide);
            maps.ct.delete(clientSide);
            assertEquals("timeout", h.echo("refused"), "S's ingress policy now decides the flow, and allows nothing; CT "
                    + maps.ct.entries() + " drops " + maps.allDrops());
            assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 1300, x.identity());
            assertTrue(noCt(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value()), "no entry for the refused flow");
        }
    }

    // ---- (j)

    @Test
    void anIpcacheCidrGivesItsIdentityToAddressesInIt() {
        assertEquals(Optional.of(new IpcacheValue(CIDR_IDENTITY)), maps.ipcache.lookup(IpcacheKey.host(ip(CIDR_ADDRESS))),
                "the trie's longest match for .77 is the /24");
        assertEquals(Optional.of(new IpcacheValue(OTHER_IDENTITY)), maps.ipcache.lookup(IpcacheKey.host(ip(OTHER_ADDRESS))));
        endpoint(s, true, false, 1200, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), CIDR_IDENTITY, TCP.value(), TCP_PORT, 1201);

        Conn c = tcp(outside, CIDR_ADDRESS, s.address(), TCP_PORT);
        assertConnects(c, CIDR_ADDRESS + " -> S:8080");
        Ct4Entry e = ctEntry(CIDR_ADDRESS, s.address(), c.localPort(), TCP_PORT, TCP.value(), INGRESS.value());
        assertEquals(CIDR_IDENTITY, e.srcIdentity());
        assertEquals(1201, e.ruleId());

        assertRefused(tcp(outside, OTHER_ADDRESS, s.address(), TCP_PORT), OTHER_ADDRESS + " (a /32 inside the /24)");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 1200, OTHER_IDENTITY);
        assertRefused(tcp(outside, WORLD_ADDRESS, s.address(), TCP_PORT), WORLD_ADDRESS + " (in no entry)");
        assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 1200, ReservedIdentity.WORLD.id());
    }

    // ---- (r) re-check of established flows after a policy change (policy_revisions)

    @Test
    void aPolicyChangeReChecksEstablishedTcpOnlyWhenTheRevisionMoves() throws IOException {
        endpoint(s, true, false, 1400, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), x.identity(), TCP.value(), TCP_PORT, 1401);
        maps.revision(s.endpointId(), 1, s.ifindex());
        try (Held h = hold(x, s, TCP_PORT)) {
            assertEquals("before", h.echo("before"));
            int port = h.localPort();
            Ct4Entry admitted = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
            assertEquals(1, admitted.policyRevision(), "admitted under the endpoint's revision");
            assertEquals(1401, admitted.ruleId());

            // Another rule allows the same: the next forward packet is decided again, passes, and takes the new rule.
            maps.allow(s.endpointId(), INGRESS.value(), x.identity(), TCP.value(), 0, 1402);
            maps.policy.delete(new PolicyStructs.PolicyKey(x.identity(), s.endpointId(), INGRESS.value(), TCP.value(), TCP_PORT));
            maps.revision(s.endpointId(), 2, s.ifindex());
            assertEquals("still allowed", h.echo("still allowed"));
            Ct4Entry rechecked = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
            assertEquals(2, rechecked.policyRevision(), "re-checked under revision 2: " + rechecked);
            assertEquals(1402, rechecked.ruleId(), "the rule that admits it now");

            // The allow removed without a new revision: nothing re-checks, the flow goes on (the gate is the revision).
            maps.policy.delete(new PolicyStructs.PolicyKey(x.identity(), s.endpointId(), INGRESS.value(), TCP.value(), 0));
            assertEquals("unchanged revision", h.echo("unchanged revision"));
            assertEquals(DropValue.ZERO, maps.drops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 1400, x.identity()));

            // Now the revision moves: X's next segment is dropped by default deny, the entry is marked and stays.
            maps.revision(s.endpointId(), 3, s.ifindex());
            assertEquals("timeout", h.echo("cut"), "the established connection is cut; CT " + maps.ct.entries());
            assertDrops(s.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 1400, x.identity());
            Ct4Entry denied = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
            assertTrue(denied.has(CtFlag.POLICY_DENIED), "marked denied: " + denied);
            assertEquals(2, denied.policyRevision(), "keeps the revision it was last admitted under");

            // Allowed again: the retransmission of "cut" reaches S, the connection resumes where it stood.
            maps.allow(s.endpointId(), INGRESS.value(), x.identity(), TCP.value(), TCP_PORT, 1403);
            maps.revision(s.endpointId(), 4, s.ifindex());
            assertEquals("cut", h.next(15_000), "the old connection survives: the retransmitted segment passes");
            assertEquals("resumed", h.echo("resumed"));
            Ct4Entry again = ctEntry(x.address(), s.address(), port, TCP_PORT, TCP.value(), INGRESS.value());
            assertFalse(again.has(CtFlag.POLICY_DENIED), "no longer marked: " + again);
            assertEquals(4, again.policyRevision());
            assertEquals(1403, again.ruleId());
        }
    }

    @Test
    void anEgressDenyCutsAnEstablishedUdpFlowAndItsRemovalRestoresIt() throws Exception {
        endpoint(x, false, true, 0, 1500, 0);
        maps.allow(x.endpointId(), EGRESS.value(), s.identity(), UDP.value(), UDP_PORT, 1501);
        maps.revision(x.endpointId(), 7, x.ifindex());
        try (DatagramSocket sock = x.ns().call(DatagramSocket::new)) {
            sock.setSoTimeout(REFUSED_MS);
            java.util.function.Function<String, String> ping = text -> {
                try {
                    byte[] b = text.getBytes(StandardCharsets.UTF_8);
                    sock.send(new DatagramPacket(b, b.length, new InetSocketAddress(s.address(), UDP_PORT)));
                    DatagramPacket reply = new DatagramPacket(new byte[512], 512);
                    sock.receive(reply);
                    return "answered";
                } catch (SocketTimeoutException e) {
                    return "timeout";
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            };
            assertEquals("answered", ping.apply("one"));
            int port = sock.getLocalPort();
            assertEquals(7, ctEntry(x.address(), s.address(), port, UDP_PORT, UDP.value(), EGRESS.value()).policyRevision());

            maps.deny(x.endpointId(), EGRESS.value(), s.identity(), UDP.value(), 0, 1502);
            maps.revision(x.endpointId(), 8, x.ifindex());
            assertEquals("timeout", ping.apply("two"), "a deny rule cuts the flow at its next datagram");
            assertDrops(x.endpointId(), EGRESS.value(), DropReason.POLICY_DENY.value(), 1502, s.identity());
            assertTrue(ctEntry(x.address(), s.address(), port, UDP_PORT, UDP.value(), EGRESS.value()).has(CtFlag.POLICY_DENIED));
            assertEquals("timeout", ping.apply("three"), "and every later one");

            maps.policy.delete(new PolicyStructs.PolicyKey(s.identity(), x.endpointId(), EGRESS.value(), UDP.value(), 0));
            maps.revision(x.endpointId(), 9, x.ifindex());
            assertEquals("answered", ping.apply("four"), "the deny removed: the same flow flows again");
            Ct4Entry e = ctEntry(x.address(), s.address(), port, UDP_PORT, UDP.value(), EGRESS.value());
            assertFalse(e.has(CtFlag.POLICY_DENIED), e.toString());
            assertEquals(9, e.policyRevision());
        }
    }

    @Test
    void repliesOfADeniedFlowStillPassAndAFailClosedEndpointKeepsItsFlows() throws IOException {
        // X's egress no longer allows S: X's own segments are dropped, S's segments to X are replies and pass.
        endpoint(x, false, true, 0, 1600, 0);
        maps.allow(x.endpointId(), EGRESS.value(), s.identity(), TCP.value(), TCP_PORT, 1601);
        maps.revision(x.endpointId(), 1, x.ifindex());
        try (Held h = hold(x, s, TCP_PORT)) {
            assertEquals("before", h.echo("before"));
            maps.policy.delete(new PolicyStructs.PolicyKey(s.identity(), x.endpointId(), EGRESS.value(), TCP.value(), TCP_PORT));
            maps.revision(x.endpointId(), 2, x.ifindex());
            assertEquals("timeout", h.echo("cut"));
            assertDrops(x.endpointId(), EGRESS.value(), DropReason.POLICY.value(), 1600, s.identity());
            assertEquals(DropValue.ZERO, maps.drops(x.endpointId(), INGRESS.value(), DropReason.POLICY.value(), 0, s.identity()),
                    "no reply of S was dropped: " + maps.allDrops());
            maps.allow(x.endpointId(), EGRESS.value(), s.identity(), TCP.value(), TCP_PORT, 1601);
            maps.revision(x.endpointId(), 3, x.ifindex());
            assertEquals("cut", h.next(15_000));
        }
        // A policy that did not fit (fail closed) decides no established flow: it goes on through revisions.
        endpoint(s, true, false, 1700, 0, 0);
        maps.allow(s.endpointId(), INGRESS.value(), x.identity(), TCP.value(), TCP_PORT, 1701);
        maps.revision(s.endpointId(), 1, s.ifindex());
        try (Held h = hold(x, s, TCP_PORT)) {
            assertEquals("before", h.echo("before"));
            maps.policy.delete(new PolicyStructs.PolicyKey(x.identity(), s.endpointId(), INGRESS.value(), TCP.value(), TCP_PORT));
            endpoint(s, true, false, 1700, 0, EndpointFlag.FAIL_CLOSED.value());
            maps.revision(s.endpointId(), 2, s.ifindex());
            assertEquals("after", h.echo("after"), "fail closed keeps established flows");
            assertRefused(tcp(x, s, TCP_PORT), "but a new one is dropped");
        }
    }
}
