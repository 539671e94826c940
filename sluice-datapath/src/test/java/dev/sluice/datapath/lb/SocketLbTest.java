package dev.sluice.datapath.lb;

import dev.sluice.datapath.Cleanup;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.ServiceFlag;
import dev.sluice.datapath.lb.LbStructs.Lb4Affinity;
import dev.sluice.datapath.lb.LbStructs.Lb4AffinityKey;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Libc;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.VethPair;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static dev.sluice.datapath.abi.Protocol.TCP;
import static dev.sluice.datapath.abi.Protocol.UDP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Socket-level load balancing with the real programs on real sockets: a client process in its own
 * network namespace and in a cgroup with sock_lb's programs attached talks to ClusterIPs; identity
 * servers in a second namespace (joined by a veth) say which backend answered.
 */
class SocketLbTest {
    private static final List<String> BACKENDS = List.of("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13");
    private static final int TCP_BACKEND_PORT = 8080;
    private static final int UDP_BACKEND_PORT = 5353;
    private static final String VIP = "10.96.0.10";
    private static final String EMPTY_VIP = "10.96.0.11";
    private static final String AFFINITY_VIP = "10.96.0.12";
    private static final int AFFINITY_REV_NAT = 4;

    private static final Cleanup cleanup = new Cleanup();
    private static LbTestMaps maps;
    private static VethPair pair;
    private static Path cgroup;

    @BeforeAll
    static void setUp() {
        Privileged.require();
        try {
            BpfObject object = cleanup.add(Programs.open(Programs.SOCK_LB).load());
            maps = new LbTestMaps(object);
            pair = cleanup.add(new VethPair()); // a: the client, b: the backends
            for (String b : BACKENDS) {
                pair.b.ip("addr", "add", b + "/24", "dev", pair.deviceB);
            }
            // connect() needs a route to the ClusterIP range, although the hook rewrites before routing.
            pair.a.ip("route", "add", "10.96.0.0/16", "dev", pair.deviceA);
            cleanup.add(new IdentityServers(pair.b, BACKENDS, TCP_BACKEND_PORT, UDP_BACKEND_PORT));

            List<Integer> tcpIds = List.of(1, 2, 3, 4);
            List<Integer> udpIds = List.of(11, 12, 13, 14);
            for (int i = 0; i < BACKENDS.size(); i++) {
                maps.backend(tcpIds.get(i), BACKENDS.get(i), TCP_BACKEND_PORT, TCP.value());
                maps.backend(udpIds.get(i), BACKENDS.get(i), UDP_BACKEND_PORT, UDP.value());
            }
            maps.service(VIP, 80, TCP.value(), 1, 0, 0, tcpIds);
            maps.service(VIP, 53, UDP.value(), 2, 0, 0, udpIds);
            maps.service(EMPTY_VIP, 80, TCP.value(), 3, 0, 0, List.of());
            maps.service(EMPTY_VIP, 53, UDP.value(), 5, 0, 0, List.of());
            maps.service(AFFINITY_VIP, 80, TCP.value(), AFFINITY_REV_NAT, ServiceFlag.AFFINITY.value(), 60, tcpIds);

            Path dir = Cgroups.create(Path.of(Names.unique("sluice-lbt")));
            cleanup.add(() -> Cgroups.remove(dir));
            cgroup = dir;
            int fd = Cgroups.openFd(dir);
            cleanup.add(() -> Libc.close(fd));
            for (String p : List.of("sock4_connect", "sock4_sendmsg", "sock4_recvmsg", "sock4_getpeername", "sock4_release")) {
                BpfLink link = object.program(p).attachCgroup(fd);
                cleanup.add(link::detach);
            }
        } catch (RuntimeException | Error e) {
            tearDown();
            throw e;
        }
    }

    @AfterAll
    static void tearDown() {
        cleanup.close();
    }

    /** Runs SocketLbClient in the client namespace; returns its output lines. */
    private static List<String> client(String... args) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + pair.a.path(), java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), SocketLbClient.class.getName(), cgroup.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String output = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "client finished");
            assertEquals(0, p.exitValue(), "client failed: " + output);
            return output.lines().toList();
        } finally {
            p.destroyForcibly();
        }
    }

    private static List<String[]> results(List<String> lines, String tag) {
        return lines.stream().filter(l -> l.startsWith(tag + " ")).map(l -> l.split(" ")).toList();
    }

    @Test
    void tcpConnectionsSpreadOverEveryBackendAndGetpeernameShowsTheFrontend() throws Exception {
        int n = 40;
        List<String> lines = client("tcp", VIP, "80", Integer.toString(n));
        List<String[]> tcp = results(lines, "TCP");
        assertEquals(n, tcp.size(), String.join("\n", lines));
        Set<String> answered = new HashSet<>();
        for (String[] r : tcp) {
            // TCP <backend> <client as the backend saw it> <getpeername()>
            answered.add(r[1]);
            assertTrue(r[2].startsWith(VethPair.ADDRESS_A + ":"), "the backend sees the client's own address: " + String.join(" ", r));
            assertEquals(VIP + ":80", r[3], "getpeername() returns the frontend");
        }
        assertEquals(Set.copyOf(BACKENDS), answered, "every backend was chosen");
        // sock4_release dropped the reverse-NAT entries of the closed connections.
        long left = maps.sockRevNat.keys().stream().filter(k -> k.port() == TCP_BACKEND_PORT).count();
        assertEquals(0, left, "lb4_sock_revnat entries of closed TCP sockets");
    }

    @Test
    void udpRepliesComeFromTheFrontend() throws Exception {
        int n = 40;
        List<String> lines = client("udp", VIP, "53", Integer.toString(n));
        List<String[]> udp = results(lines, "UDP");
        assertEquals(n, udp.size(), String.join("\n", lines));
        Set<String> answered = new HashSet<>();
        for (String[] r : udp) {
            // UDP <backend> <client as the backend saw it> <recvfrom() source>
            answered.add(r[1]);
            assertEquals(VIP + ":53", r[3], "recvfrom() reports the frontend as the source");
        }
        assertEquals(Set.copyOf(BACKENDS), answered, "every datagram is balanced on its own");
        List<String[]> connected = results(lines, "UDPC");
        assertEquals(1, connected.size(), String.join("\n", lines));
        assertTrue(BACKENDS.contains(connected.get(0)[1]), String.join(" ", connected.get(0)));
        assertEquals(VIP + ":53", connected.get(0)[3], "connected UDP: recvfrom() source");
        assertEquals(VIP + ":53", connected.get(0)[4], "connected UDP: getpeername()");
    }

    @Test
    void aServiceWithoutBackendsRefusesAtOnce() throws Exception {
        for (String op : List.of("refused-tcp", "refused-udp")) {
            List<String> lines = client(op, EMPTY_VIP, op.endsWith("tcp") ? "80" : "53");
            List<String[]> r = results(lines, "REFUSED");
            assertEquals(1, r.size(), String.join("\n", lines));
            assertEquals(LbSockets.ECONNREFUSED, Integer.parseInt(r.get(0)[1]), op + ": errno is ECONNREFUSED");
            assertTrue(Long.parseLong(r.get(0)[2]) < 1000, op + ": refused at once, not after a timeout: " + r.get(0)[2] + " ms");
        }
    }

    @Test
    void sessionAffinityKeepsOneClientNamespaceOnOneBackend() throws Exception {
        int n = 20;
        List<String> lines = client("tcp", AFFINITY_VIP, "80", Integer.toString(n));
        List<String[]> tcp = results(lines, "TCP");
        assertEquals(n, tcp.size(), String.join("\n", lines));
        Set<String> answered = new HashSet<>();
        tcp.forEach(r -> answered.add(r[1]));
        assertEquals(1, answered.size(), "one backend for every connection: " + answered);
        tcp.forEach(r -> assertEquals(AFFINITY_VIP + ":80", r[3]));

        Map<Lb4AffinityKey, Lb4Affinity> entries = maps.affinity.entries();
        List<Lb4AffinityKey> mine = entries.keySet().stream().filter(k -> k.revNatIndex() == AFFINITY_REV_NAT).toList();
        assertEquals(1, mine.size(), "one affinity entry for the one client netns: " + entries);
        assertTrue(mine.get(0).netnsCookie(), "the client is a netns cookie");
        int backendId = entries.get(mine.get(0)).backendId();
        assertEquals(answered.iterator().next(), BACKENDS.get(backendId - 1), "the entry names the backend that answered");

        // A second process in the same namespace is the same client.
        List<String> again = client("tcp", AFFINITY_VIP, "80", "5");
        List<String[]> second = results(again, "TCP");
        assertEquals(5, second.size(), String.join("\n", again));
        second.forEach(r -> assertEquals(answered.iterator().next(), r[1], "affinity outlives the client process"));
    }
}
