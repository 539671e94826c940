package dev.sluice.libbpf;

import dev.sluice.libbpf.TestStructs.Hit;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.Libc;
import dev.sluice.testing.CgroupSocketClient;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.VethPair;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Attaches and detaches every link type, and proves each with real traffic through the hook. */
class LinkTest {
    private static final int PACKETS = 20;
    private static BpfObject object;

    @BeforeAll
    static void load() {
        Privileged.require();
        object = BpfObject.openResource(LinkTest.class, "/bpf/binding_test.bpf.o").load();
    }

    @AfterAll
    static void close() {
        if (object != null) {
            object.close();
        }
    }

    private static Map<Hit, Long> hits() {
        TypedMap<Integer, Long> map = object.map("hits").typed(Codecs.u32(), Codecs.u64());
        Map<Hit, Long> out = new EnumMap<>(Hit.class);
        for (Hit h : Hit.values()) {
            out.put(h, map.lookup(h.ordinal()).orElse(0L));
        }
        return out;
    }

    private static long delta(Map<Hit, Long> before, Hit hit) {
        return hits().get(hit) - before.get(hit);
    }

    @Test
    void tcxIngressAndEgressSeeRealPacketsUntilDetached() {
        try (VethPair pair = new VethPair()) {
            BpfLink ingress = pair.b.call(() -> object.program("tc_ingress").attachTcx(pair.ifindexB(), TcDirection.INGRESS));
            BpfLink egress = pair.a.call(() -> object.program("tc_egress").attachTcx(pair.ifindexA(), TcDirection.EGRESS));
            Map<Hit, Long> before = hits();
            try {
                Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, PACKETS);
                assertTrue(delta(before, Hit.TC_INGRESS) >= PACKETS, "ingress saw " + delta(before, Hit.TC_INGRESS));
                assertTrue(delta(before, Hit.TC_EGRESS) >= PACKETS, "egress saw " + delta(before, Hit.TC_EGRESS));
            } finally {
                ingress.detach();
                egress.detach();
            }
            Map<Hit, Long> detached = hits();
            Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, PACKETS);
            assertEquals(0, delta(detached, Hit.TC_INGRESS), "no program runs after detach");
            assertEquals(0, delta(detached, Hit.TC_EGRESS), "no program runs after detach");
        }
    }

    @Test
    void tcxPositionOrdersTheChain() {
        // A program attached FIRST sees packets before one attached earlier at LAST: here it drops one UDP
        // port, so the counting program behind it never sees those packets, and still sees the others.
        TypedMap<Integer, Integer> config = object.map("config").typed(Codecs.u32(), Codecs.u32());
        config.update(0, 9200);
        try (VethPair pair = new VethPair()) {
            BpfLink counter = pair.b.call(() -> object.program("tc_ingress").attachTcx(pair.ifindexB(), TcDirection.INGRESS, TcxPosition.LAST));
            BpfLink dropper = pair.b.call(() -> object.program("tc_drop_port").attachTcx(pair.ifindexB(), TcDirection.INGRESS, TcxPosition.FIRST));
            try {
                Map<Hit, Long> before = hits();
                Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, PACKETS); // also resolves ARP, whose frames the counter sees
                assertTrue(delta(before, Hit.TC_INGRESS) >= PACKETS, "other packets pass on to the counter");
                Map<Hit, Long> resolved = hits();
                Traffic.udp(pair.a, VethPair.ADDRESS_B, 9200, PACKETS);
                assertEquals(0, delta(resolved, Hit.TC_INGRESS), "the first program dropped them before the counter");
            } finally {
                dropper.detach();
                counter.detach();
            }
        } finally {
            config.update(0, 0);
        }
    }

    @Test
    void legacyClsactFilterSeesPacketsAndIsRemovedOnClose() {
        try (VethPair pair = new VethPair()) {
            Map<Hit, Long> before = hits();
            try (BpfLink link = pair.b.call(() -> object.program("tc_ingress").attachTcLegacy(pair.ifindexB(), TcDirection.INGRESS))) {
                assertTrue(pair.b.exec("tc", "filter", "show", "dev", pair.deviceB, "ingress").stdout().contains("tc_ingress"),
                        "tc lists the filter");
                Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, PACKETS);
                assertTrue(delta(before, Hit.TC_INGRESS) >= PACKETS);
            }
            assertTrue(pair.b.exec("tc", "filter", "show", "dev", pair.deviceB, "ingress").stdout().isBlank(),
                    "the filter is gone after close");
            Map<Hit, Long> closed = hits();
            Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, PACKETS);
            assertEquals(0, delta(closed, Hit.TC_INGRESS));
        }
    }

    @Test
    void attachTcPrefersTcxOnThisKernel() {
        try (VethPair pair = new VethPair();
             BpfLink link = pair.b.call(() -> object.program("tc_ingress").attachTc(pair.ifindexB(), TcDirection.INGRESS))) {
            assertEquals(BpfSystem.tcxSupported(), link instanceof FdLink, link.description());
        }
    }

    @Test
    void xdpLinkSeesPacketsUntilDetached() {
        try (VethPair pair = new VethPair()) {
            Map<Hit, Long> before = hits();
            try (BpfLink link = pair.b.call(() -> object.program("xdp_count").attachXdp(pair.ifindexB(), XdpMode.AUTO))) {
                assertTrue(pair.b.ip("link", "show", "dev", pair.deviceB).contains("xdp"), "ip link shows the XDP program");
                Traffic.udp(pair.a, VethPair.ADDRESS_B, 9000, PACKETS);
                assertTrue(delta(before, Hit.XDP) >= PACKETS, "xdp saw " + delta(before, Hit.XDP));
            }
            assertTrue(!pair.b.ip("link", "show", "dev", pair.deviceB).contains("prog/xdp"), "XDP program gone after close");
        }
    }

    @Test
    void cgroupHooksSockOpsAndSkMsgRunForAProcessInTheCgroup() throws Exception {
        Path cgroup = Cgroups.create(Path.of(Names.unique("sluice-test")));
        int cgroupFd = Libc.open(cgroup.toString(), Libc.O_RDONLY | Libc.O_DIRECTORY);
        List<BpfLink> links = new ArrayList<>();
        try (ServerSocket tcp = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
             DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            Thread servers = Thread.ofPlatform().daemon().start(() -> serve(tcp, udp, 2));
            for (String p : List.of("cg_connect4", "cg_sendmsg4", "cg_recvmsg4", "cg_getpeername4", "cg_sock_release", "sockops_track")) {
                links.add(object.program(p).attachCgroup(cgroupFd));
            }
            links.add(object.program("sk_msg_count").attachSkMsg(object.map("test_sockhash")));

            Map<Hit, Long> before = hits();
            runClient(cgroup, tcp.getLocalPort(), udp.getLocalPort());
            for (Hit h : List.of(Hit.CONNECT4, Hit.SENDMSG4, Hit.RECVMSG4, Hit.GETPEERNAME4, Hit.SOCK_RELEASE,
                    Hit.SOCKOPS_ESTABLISHED, Hit.SK_MSG)) {
                assertTrue(delta(before, h) >= 1, h + " did not run: " + hits());
            }

            for (BpfLink link : links) {
                link.detach();
            }
            Map<Hit, Long> detached = hits();
            runClient(cgroup, tcp.getLocalPort(), udp.getLocalPort());
            for (Hit h : List.of(Hit.CONNECT4, Hit.SENDMSG4, Hit.RECVMSG4, Hit.GETPEERNAME4, Hit.SOCK_RELEASE,
                    Hit.SOCKOPS_ESTABLISHED, Hit.SK_MSG)) {
                assertEquals(0, delta(detached, h), h + " ran after detach");
            }
            servers.join(5_000);
        } finally {
            for (BpfLink link : links) {
                link.close();
            }
            Libc.close(cgroupFd);
            Cgroups.remove(cgroup);
        }
    }

    private static void runClient(Path cgroup, int tcpPort, int udpPort) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                CgroupSocketClient.class.getName(), cgroup.toString(), Integer.toString(tcpPort), Integer.toString(udpPort))
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "client finished");
        assertEquals(0, p.exitValue(), "client failed: " + output);
    }

    // Accepts `rounds` TCP connections (reading what they send) and echoes `rounds` UDP datagrams.
    private static void serve(ServerSocket tcp, DatagramSocket udp, int rounds) {
        Thread echo = Thread.ofPlatform().daemon().start(() -> {
            try {
                for (int i = 0; i < rounds; i++) {
                    DatagramPacket packet = new DatagramPacket(new byte[512], 512);
                    udp.receive(packet);
                    udp.send(new DatagramPacket(packet.getData(), packet.getLength(), packet.getSocketAddress()));
                }
            } catch (IOException ignored) {
                // the socket closes when the test ends
            }
        });
        try {
            for (int i = 0; i < rounds; i++) {
                try (Socket s = tcp.accept()) {
                    s.getInputStream().readAllBytes();
                }
            }
            echo.join(5_000);
        } catch (IOException | InterruptedException ignored) {
            // the socket closes when the test ends
        }
    }
}
