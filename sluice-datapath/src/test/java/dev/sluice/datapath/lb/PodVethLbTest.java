package dev.sluice.datapath.lb;

import dev.sluice.datapath.Cleanup;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.LbCtFlag;
import dev.sluice.datapath.abi.ServiceFlag;
import dev.sluice.datapath.lb.LbStructs.Ct4Key;
import dev.sluice.datapath.lb.LbStructs.Ct4LbEntry;
import dev.sluice.datapath.lb.LbStructs.Lb4Affinity;
import dev.sluice.datapath.lb.LbStructs.Lb4AffinityKey;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.TcDirection;
import dev.sluice.linux.NetNs;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.VethPair;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static dev.sluice.datapath.abi.Protocol.TCP;
import static dev.sluice.datapath.abi.Protocol.UDP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-packet load balancing with the real programs on real packets. Three namespaces: a "pod"
 * (192.0.2.1) joined by a veth to a "node" (192.0.2.2), which forwards to "backend" namespace addresses
 * 198.51.100.10-13 over a second veth. from_pod and to_pod sit on the node's end of the pod's veth, as
 * the agent attaches them; the pod's client has no socket hooks (plain sockets on a thread in the pod's
 * namespace, in no test cgroup), so every translation seen here is the per-packet one.
 */
class PodVethLbTest {
    private static final List<String> BACKENDS = List.of("198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13");
    private static final List<Integer> TCP_IDS = List.of(1, 2, 3, 4);
    private static final List<Integer> UDP_IDS = List.of(11, 12, 13, 14);
    private static final int TCP_BACKEND_PORT = 8080;
    private static final int UDP_BACKEND_PORT = 5353;
    private static final int MAGLEV_SIZE = Maglev.DEFAULT_TABLE_SIZE;
    private static final String VIP = "10.96.0.10";
    private static final String EMPTY_VIP = "10.96.0.11";
    private static final String AFFINITY_VIP = "10.96.0.12";
    private static final int AFFINITY_REV_NAT = 4;
    private static final String POD = VethPair.ADDRESS_A;
    private static final String HAIRPIN_VIP = "10.96.0.13";
    private static final int HAIRPIN_PORT = 8081;
    private static final int HAIRPIN_ID = 21;

    private static final Cleanup cleanup = new Cleanup();
    private static LbTestMaps maps;
    private static VethPair pair; // a: the pod, b: the node
    private static NetNs backendNs;
    private static int[] maglevTable;

    @BeforeAll
    static void setUp() {
        Privileged.require();
        try {
            BpfObject object = cleanup.add(Programs.open(Programs.POD_VETH).load());
            maps = new LbTestMaps(object);
            pair = cleanup.add(new VethPair());
            NetNs pod = pair.a;
            NetNs node = pair.b;
            NetNs backend = cleanup.add(NetNs.create(Names.unique("lbk")));
            backendNs = backend;
            String nodeDev = Names.unique("vn");
            String backendDev = Names.unique("vk");
            node.ip("link", "add", nodeDev, "type", "veth", "peer", "name", backendDev, "netns", backend.name());
            node.ip("addr", "add", "198.51.100.1/24", "dev", nodeDev);
            node.ip("link", "set", nodeDev, "up");
            node.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1").orThrow();
            backend.ip("addr", "add", "198.51.100.2/24", "dev", backendDev);
            for (String b : BACKENDS) {
                backend.ip("addr", "add", b + "/24", "dev", backendDev);
            }
            backend.ip("link", "set", backendDev, "up");
            backend.ip("route", "add", "192.0.2.0/24", "via", "198.51.100.1");
            // The pod reaches Services (and, for the untranslated check, the backends) through the node.
            pod.ip("route", "add", "10.96.0.0/16", "via", VethPair.ADDRESS_B);
            pod.ip("route", "add", "198.51.100.0/24", "via", VethPair.ADDRESS_B);
            // A pod's default route covers the hairpin address; this one has only the routes it needs.
            pod.ip("route", "add", "169.254.42.1/32", "via", VethPair.ADDRESS_B);
            cleanup.add(new IdentityServers(backend, BACKENDS, TCP_BACKEND_PORT, UDP_BACKEND_PORT));
            // Make every receiver check the L4 checksums the programs rewrite, on both of the kernel's
            // paths: the pod sends full checksums (DNAT updates a complete checksum); the backend sends
            // CHECKSUM_PARTIAL, which the node completes in software on the pod's veth after to_pod ran
            // (SNAT updates the pseudo-header seed). Left on, veths pass CHECKSUM_PARTIAL along and no
            // receiver would notice a wrong update.
            txChecksumOff(pod, pair.deviceA);
            txChecksumOff(node, pair.deviceB);

            List<String> names = new ArrayList<>();
            for (int i = 0; i < BACKENDS.size(); i++) {
                maps.backend(TCP_IDS.get(i), BACKENDS.get(i), TCP_BACKEND_PORT, TCP.value());
                maps.backend(UDP_IDS.get(i), BACKENDS.get(i), UDP_BACKEND_PORT, UDP.value());
                names.add(BACKENDS.get(i) + ":" + TCP_BACKEND_PORT);
            }
            maglevTable = maps.maglev(1, MAGLEV_SIZE, TCP_IDS, names);
            maps.maglev(AFFINITY_REV_NAT, MAGLEV_SIZE, TCP_IDS, names);
            maps.service(VIP, 80, TCP.value(), 1, 0, 0, TCP_IDS);
            maps.service(VIP, 53, UDP.value(), 2, 0, 0, UDP_IDS); // no Maglev table: the random-slot fallback
            maps.service(EMPTY_VIP, 80, TCP.value(), 3, 0, 0, List.of());
            maps.service(EMPTY_VIP, 53, UDP.value(), 5, 0, 0, List.of());
            maps.service(AFFINITY_VIP, 80, TCP.value(), AFFINITY_REV_NAT, ServiceFlag.AFFINITY.value(), 60, TCP_IDS);
            // A Service whose only backend is the pod itself.
            cleanup.add(new IdentityServers(pod, List.of(POD), HAIRPIN_PORT, HAIRPIN_PORT));
            maps.backend(HAIRPIN_ID, POD, HAIRPIN_PORT, TCP.value());
            maps.service(HAIRPIN_VIP, 80, TCP.value(), 6, 0, 0, List.of(HAIRPIN_ID));

            int ifindex = node.ifindex(pair.deviceB);
            BpfLink in = node.call(() -> object.program("from_pod").attachTcx(ifindex, TcDirection.INGRESS));
            cleanup.add(in::detach);
            BpfLink out = node.call(() -> object.program("to_pod").attachTcx(ifindex, TcDirection.EGRESS));
            cleanup.add(out::detach);
        } catch (RuntimeException | Error e) {
            tearDown();
            throw e;
        }
    }

    private static void txChecksumOff(NetNs ns, String device) {
        ns.run(() -> {
            try {
                LbSockets.txChecksum(device, false);
            } catch (Throwable t) {
                throw new IllegalStateException("cannot turn off tx checksum offload on " + device + ": " + t, t);
            }
        });
    }

    @AfterAll
    static void tearDown() {
        cleanup.close();
    }

    /** One TCP.value() exchange as the pod's client saw it: its own port, and the backend's line. */
    record Exchange(int localPort, String backend, String clientSeen, String peer) {
    }

    /** {@code n} TCP.value() connections from the pod to {@code address:port}, each reading the backend's line. */
    private static List<Exchange> tcp(String address, int port, int n) {
        return pair.a.call(() -> {
            List<Exchange> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(address, port), 2000);
                    s.setSoTimeout(2000);
                    String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                    String[] parts = line.split(" ");
                    out.add(new Exchange(s.getLocalPort(), parts[0], parts[1], s.getInetAddress().getHostAddress()));
                }
            }
            return out;
        });
    }

    /** One UDP.value() request from a fresh unconnected socket in the pod: {backend's line, reply's source}. */
    private static String[] udp(String address, int port) {
        return pair.a.call(() -> {
            try (DatagramSocket s = new DatagramSocket()) {
                s.setSoTimeout(2000);
                byte[] ping = "ping".getBytes(StandardCharsets.UTF_8);
                s.send(new DatagramPacket(ping, ping.length, new InetSocketAddress(address, port)));
                DatagramPacket reply = new DatagramPacket(new byte[512], 512);
                s.receive(reply);
                return new String[] {new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8),
                        reply.getAddress().getHostAddress() + ":" + reply.getPort(), Integer.toString(s.getLocalPort())};
            }
        });
    }

    // lb4_flow_hash() of lb_lib.h: jhash_3words over the tuple as the program loads it (network-order
    // fields read as little-endian words on this machine).
    static int flowHash(String saddr, String daddr, int sport, int dport, int proto) {
        int a = le(saddr);
        int b = le(daddr);
        int c = (Short.toUnsignedInt(Short.reverseBytes((short) sport)) << 16) | Short.toUnsignedInt(Short.reverseBytes((short) dport));
        int initval = proto + 0xdeadbeef + (3 << 2);
        a += initval;
        b += initval;
        c += initval;
        c ^= b; c -= Integer.rotateLeft(b, 14);
        a ^= c; a -= Integer.rotateLeft(c, 11);
        b ^= a; b -= Integer.rotateLeft(a, 25);
        c ^= b; c -= Integer.rotateLeft(b, 16);
        a ^= c; a -= Integer.rotateLeft(c, 4);
        b ^= a; b -= Integer.rotateLeft(a, 14);
        c ^= b; c -= Integer.rotateLeft(b, 24);
        return c;
    }

    private static int le(String dotted) {
        return ByteBuffer.wrap(LbTestMaps.ip(dotted).getAddress()).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    @Test
    void tcpThroughTheFrontendIsTranslatedBothWaysAndFollowsMaglev() {
        int n = 40;
        List<Exchange> exchanges = tcp(VIP, 80, n);
        assertEquals(n, exchanges.size());
        Set<String> answered = new HashSet<>();
        for (Exchange e : exchanges) {
            answered.add(e.backend());
            // The handshake completing at all shows the reply came back from the frontend; the backend
            // saw the pod's own address and port (DNAT only, no SNAT of the client).
            assertEquals(POD + ":" + e.localPort(), e.clientSeen(), "the backend sees the client unchanged");
            int predicted = maglevTable[Integer.remainderUnsigned(flowHash(POD, VIP, e.localPort(), 80, TCP.value()), MAGLEV_SIZE)];
            assertEquals(BACKENDS.get(TCP_IDS.indexOf(predicted)), e.backend(), "the backend Maglev gives this flow");

            Optional<Ct4LbEntry> original = maps.ct.lookup(new Ct4Key(LbTestMaps.ip(POD), LbTestMaps.ip(VIP), e.localPort(), 80, TCP.value()));
            assertTrue(original.isPresent(), "ct4_lb holds the flow as the client sent it");
            assertEquals(LbTestMaps.ip(e.backend()), original.get().backendAddress());
            assertEquals(TCP_BACKEND_PORT, original.get().backendPort());
            assertEquals(1, original.get().revNatIndex());
            assertEquals(predicted, original.get().backendId());

            Optional<Ct4LbEntry> reply = maps.ct.lookup(new Ct4Key(LbTestMaps.ip(e.backend()), LbTestMaps.ip(POD), TCP_BACKEND_PORT,
                    e.localPort(), TCP.value()));
            assertTrue(reply.isPresent(), "ct4_lb holds the reply direction");
            assertEquals(LbTestMaps.ip(VIP), reply.get().frontendAddress());
            assertEquals(80, reply.get().frontendPort());
            assertEquals(LbTestMaps.ip(POD), reply.get().backendAddress(), "the reply entry records the client");
            assertEquals(e.localPort(), reply.get().backendPort());
        }
        assertEquals(Set.copyOf(BACKENDS), answered, "connections spread over every backend");
    }

    /**
     * Hairpin: the pod reaches itself through a Service. It sees the connection come from the hairpin
     * address, its answer leaves the pod and comes back from the frontend, and the connection works.
     */
    @Test
    void aPodReachesItselfThroughItsService() {
        List<Exchange> exchanges = tcp(HAIRPIN_VIP, 80, 5);
        assertEquals(5, exchanges.size());
        for (Exchange e : exchanges) {
            assertEquals(POD, e.backend(), "the pod answered itself");
            assertEquals("169.254.42.1:" + e.localPort(), e.clientSeen(), "from the hairpin address, the client's port kept");
            assertEquals(HAIRPIN_VIP, e.peer(), "the client's peer is the Service");
            Ct4LbEntry original = maps.ct.lookup(new Ct4Key(LbTestMaps.ip(POD), LbTestMaps.ip(HAIRPIN_VIP), e.localPort(), 80, TCP.value()))
                    .orElseThrow();
            assertEquals(LbCtFlag.HAIRPIN.value(), original.flags());
            Ct4LbEntry reply = maps.ct.lookup(new Ct4Key(LbTestMaps.ip(POD), LbTestMaps.ip("169.254.42.1"), HAIRPIN_PORT,
                    e.localPort(), TCP.value())).orElseThrow();
            assertEquals(LbCtFlag.REPLY.value() | LbCtFlag.HAIRPIN.value(), reply.flags());
        }
    }

    @Test
    void udpRepliesComeFromTheFrontend() {
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < 40; i++) {
            String[] r = udp(VIP, 53);
            String[] line = r[0].split(" ");
            answered.add(line[0]);
            assertEquals(VIP + ":53", r[1], "the reply's source is the frontend");
            assertEquals(POD + ":" + r[2], line[1], "the backend sees the client unchanged");
        }
        assertEquals(Set.copyOf(BACKENDS), answered, "without a Maglev table, random slots still spread");
    }

    /** How one TCP.value() connect() from the pod ends: "connected", "timeout", or the exception. */
    private static String connectOutcome(String address, int port, int timeoutMillis) {
        return pair.a.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(address, port), timeoutMillis);
                return "connected";
            } catch (SocketTimeoutException e) {
                return "timeout";
            } catch (IOException e) {
                return e.toString();
            }
        });
    }

    @Test
    void aFragmentedDatagramReachesItsBackendAndItsFragmentedAnswerComesFromTheFrontend() throws Exception {
        // VIP:54/UDP -> the first backend's port 5354, where a server answers every datagram with its line
        // padded to 4,000 bytes: three fragments each way over the veths' 1,500-byte MTU.
        int size = 4000;
        maps.backend(31, BACKENDS.get(0), 5354, UDP.value());
        maps.service(VIP, 54, UDP.value(), 7, 0, 0, List.of(31));
        DatagramSocket server = backendNs.call(() -> new DatagramSocket(new InetSocketAddress(BACKENDS.get(0), 5354)));
        Thread serving = Thread.ofVirtual().start(() -> {
            byte[] buf = new byte[8192];
            while (!server.isClosed()) {
                try {
                    DatagramPacket p = new DatagramPacket(buf, buf.length);
                    server.receive(p);
                    byte[] answer = new byte[size];
                    byte[] line = (BACKENDS.get(0) + " " + p.getAddress().getHostAddress() + ":" + p.getPort() + " " + p.getLength() + " ")
                            .getBytes(StandardCharsets.UTF_8);
                    System.arraycopy(line, 0, answer, 0, line.length);
                    server.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
                } catch (IOException ignored) {
                    // closed by the test
                }
            }
        });
        try {
            String[] r = pair.a.call(() -> {
                try (DatagramSocket s = new DatagramSocket()) {
                    s.setSoTimeout(2000);
                    byte[] request = new byte[size];
                    s.send(new DatagramPacket(request, request.length, new InetSocketAddress(VIP, 54)));
                    DatagramPacket reply = new DatagramPacket(new byte[8192], 8192);
                    s.receive(reply);
                    String text = new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8);
                    return new String[] {text.substring(0, text.indexOf('\0')), reply.getAddress().getHostAddress() + ":" + reply.getPort(),
                            Integer.toString(s.getLocalPort()), Integer.toString(reply.getLength())};
                }
            });
            assertEquals(BACKENDS.get(0) + " " + POD + ":" + r[2] + " " + size + " ", r[0],
                    "the backend got the whole 4,000-byte datagram from the pod (every fragment went to it)");
            assertEquals(VIP + ":54", r[1], "the answer comes from the frontend");
            assertEquals(Integer.toString(size), r[3], "the whole 4,000-byte answer arrived (every fragment translated back)");
            assertTrue(maps.ct.keys().stream().anyMatch(k -> k.destinationPort() == 54), "one flow, tracked by its first fragment");
        } finally {
            server.close();
            serving.join(2000);
        }
    }

    @Test
    void udpWithoutChecksumKeepsItsZeroChecksum() {
        // A datagram with checksum 0 ("none"): an incremental update would turn it into a wrong checksum
        // and the backend would drop it; BPF_F_MARK_MANGLED_0 leaves it 0.
        String[] r = pair.a.call(() -> {
            try {
                int fd = LbSockets.socket(LbSockets.SOCK_DGRAM, 2000);
                try {
                    LbSockets.noChecksum(fd);
                    LbSockets.sendTo(fd, VIP, 53, "no checksum");
                    return LbSockets.receiveFrom(fd);
                } finally {
                    LbSockets.close(fd);
                }
            } catch (Throwable t) {
                throw new AssertionError("UDP without checksum through the frontend: " + t, t);
            }
        });
        assertEquals(VIP + ":53", r[1]);
        assertTrue(BACKENDS.contains(r[0].split(" ")[0]), r[0]);
    }

    @Test
    void aServiceWithoutBackendsRefusesTcpAndDropsUdp() {
        long before = maps.ct.keys().size();
        long start = System.nanoTime();
        String outcome = connectOutcome(EMPTY_VIP, 80, 3000);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals("java.net.ConnectException: Connection refused", outcome, "the SYN is answered with a RST");
        assertTrue(millis < 1000, "refused at once, not after the SYN's retries: " + millis + " ms");
        // UDP gets no answer (no ICMP yet): the datagram is dropped.
        String udp = pair.a.call(() -> {
            try (DatagramSocket s = new DatagramSocket()) {
                s.setSoTimeout(300);
                byte[] ping = "ping".getBytes(StandardCharsets.UTF_8);
                s.send(new DatagramPacket(ping, ping.length, new InetSocketAddress(EMPTY_VIP, 53)));
                s.receive(new DatagramPacket(new byte[512], 512));
                return "reply";
            } catch (SocketTimeoutException e) {
                return "timeout";
            }
        });
        assertEquals("timeout", udp, "a datagram to a Service without backends is dropped");
        assertEquals(before, maps.ct.keys().size(), "no flow is tracked for a refused or dropped packet");
        assertTrue(maps.ct.keys().stream().noneMatch(k -> k.destination().equals(LbTestMaps.ip(EMPTY_VIP))
                || k.source().equals(LbTestMaps.ip(EMPTY_VIP))), "no ct4_lb entry names the empty frontend");
        // Control: an address that is no Service passes untouched, and the node (no route) says so at once.
        String control = connectOutcome("10.96.0.99", 80, 2000);
        assertTrue(!control.equals("timeout") && !control.equals("connected"), control);
    }

    @Test
    void sessionAffinityKeepsOneClientAddressOnOneBackend() {
        List<Exchange> exchanges = tcp(AFFINITY_VIP, 80, 20);
        Set<String> answered = new HashSet<>();
        exchanges.forEach(e -> answered.add(e.backend()));
        assertEquals(1, answered.size(), "one backend for every flow of one client, though Maglev would spread them: " + answered);

        Map<Lb4AffinityKey, Lb4Affinity> entries = maps.affinity.entries();
        long client = Integer.toUnsignedLong(le(POD));
        Lb4Affinity entry = entries.get(new Lb4AffinityKey(client, AFFINITY_REV_NAT, false));
        assertTrue(entry != null, "an affinity entry for the pod's address: " + entries);
        assertEquals(answered.iterator().next(), BACKENDS.get(TCP_IDS.indexOf(entry.backendId())));
    }

    @Test
    void trafficThatIsNoServiceIsLeftAlone() {
        List<Exchange> direct = tcp(BACKENDS.get(0), TCP_BACKEND_PORT, 3);
        for (Exchange e : direct) {
            assertEquals(BACKENDS.get(0), e.backend());
            assertEquals(BACKENDS.get(0), e.peer());
            assertEquals(POD + ":" + e.localPort(), e.clientSeen());
            assertTrue(maps.ct.lookup(new Ct4Key(LbTestMaps.ip(POD), LbTestMaps.ip(BACKENDS.get(0)), e.localPort(), TCP_BACKEND_PORT, TCP.value())).isEmpty(),
                    "no flow is tracked for traffic to a non-Service address");
            assertTrue(maps.ct.lookup(new Ct4Key(LbTestMaps.ip(BACKENDS.get(0)), LbTestMaps.ip(POD), TCP_BACKEND_PORT, e.localPort(), TCP.value())).isEmpty());
        }
        String[] r = udp(BACKENDS.get(1), UDP_BACKEND_PORT);
        assertEquals(BACKENDS.get(1) + ":" + UDP_BACKEND_PORT, r[1], "a direct UDP reply keeps its source");
        assertTrue(r[0].startsWith(BACKENDS.get(1) + " "), r[0]);
    }
}
