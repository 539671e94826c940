package dev.sluice.libbpf;

import dev.sluice.libbpf.TestStructs.Hit;
import dev.sluice.libbpf.TestStructs.PacketEvent;
import dev.sluice.linux.Errno;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link BpfProgram#testRun}: BPF_PROG_TEST_RUN of the binding's test programs on crafted frames, with no
 * device and no traffic. Each program counts its runs or reports the frame, so the tests can tell that it
 * ran on the frame given, as often as asked.
 */
class TestRunTest {
    private static final int PORT = 9200;
    private static final int TC_ACT_UNSPEC = -1;
    private static final int TC_ACT_SHOT = 2;
    private static final int XDP_PASS = 2;
    private static BpfObject object;

    @BeforeAll
    static void load() {
        Privileged.require();
        object = BpfObject.openResource(TestRunTest.class, "/bpf/binding_test.bpf.o").load();
        object.map("config").typed(Codecs.u32(), Codecs.u32()).update(0, PORT);
    }

    @AfterAll
    static void close() {
        if (object != null) {
            object.close();
        }
    }

    /** Ethernet + IPv4 (no options) + UDP + 8 bytes of payload, 192.0.2.1:40000 -> 192.0.2.2:dport. */
    static byte[] udpFrame(int dport) {
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + 8);
        b.put(new byte[] {2, 0, 0, 0, 0, 2}).put(new byte[] {2, 0, 0, 0, 0, 1}).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + 8)).putShort((short) 1).putShort((short) 0)
                .put((byte) 64).put((byte) 17).putShort((short) 0)
                .put(new byte[] {(byte) 192, 0, 2, 1}).put(new byte[] {(byte) 192, 0, 2, 2});
        b.putShort((short) 40000).putShort((short) dport).putShort((short) (8 + 8)).putShort((short) 0);
        b.put("testrun!".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return b.array();
    }

    private static long hits(Hit hit) {
        return object.map("hits").typed(Codecs.u32(), Codecs.u64()).lookup(hit.ordinal()).orElse(0L);
    }

    @Test
    void aTcProgramRunsRepeatTimesAndReturnsItsVerdict() {
        long before = hits(Hit.TC_INGRESS);
        TestRunResult result = object.program("tc_ingress").testRun(udpFrame(PORT + 1), 1000);
        assertEquals(1000, hits(Hit.TC_INGRESS) - before, "one run per repetition");
        assertEquals(TC_ACT_UNSPEC, result.retval());
        assertEquals(1000, result.repeat());
        assertTrue(result.durationNs() >= 0 && result.durationNs() < 1_000_000, "average ns per run: " + result.durationNs());
        assertEquals(result.durationNs() * 1000, result.totalNs());
    }

    @Test
    void theRetvalIsWhatTheProgramDecidedForThisFrame() {
        BpfProgram drop = object.program("tc_drop_port");
        assertEquals(TC_ACT_SHOT, drop.testRun(udpFrame(PORT), 1).retval(), "UDP to the configured port is dropped");
        assertEquals(TC_ACT_UNSPEC, drop.testRun(udpFrame(PORT + 1), 1).retval(), "any other port is passed on");
    }

    @Test
    void ringBufferRecordsAreWrittenOncePerRunAsFromLoopback() throws Exception {
        ConcurrentLinkedQueue<PacketEvent> events = new ConcurrentLinkedQueue<>();
        try (RingBufferReader<PacketEvent> reader = RingBufferReader.start(object.map("events"), PacketEvent.CODEC, events::add, 1024)) {
            object.program("tc_ingress").testRun(udpFrame(PORT), 100);
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (events.size() < 100 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            Thread.sleep(100); // anything beyond the 100 would show now
            List<PacketEvent> all = List.copyOf(events);
            assertEquals(100, all.size(), "one event per run");
            for (PacketEvent e : all) {
                assertEquals("192.0.2.1", e.source().getHostAddress());
                assertEquals("192.0.2.2", e.destination().getHostAddress());
                assertEquals(40000, e.sourcePort());
                assertEquals(PORT, e.destinationPort());
                assertEquals(17, e.protocol());
                assertEquals(1, e.ifindex(), "a tc test run's skb is on the namespace's loopback device");
                assertEquals(udpFrame(PORT).length, e.length());
            }
            assertEquals(0, reader.dropped());
        }
    }

    @Test
    void testRunOnceReturnsTheVerdictAndThePacketAsTheProgramLeftIt() {
        byte[] frame = udpFrame(PORT + 1);
        long before = hits(Hit.TC_INGRESS);
        TestRunResult.WithPacket result = object.program("tc_ingress").testRunOnce(frame);
        assertEquals(1, hits(Hit.TC_INGRESS) - before);
        assertEquals(TC_ACT_UNSPEC, result.retval());
        assertArrayEquals(frame, result.packet(), "an unchanged frame comes back whole");
        assertEquals(TC_ACT_SHOT, object.program("tc_drop_port").testRunOnce(udpFrame(PORT)).retval());
    }

    @Test
    void anXdpProgramRunsToo() {
        long before = hits(Hit.XDP);
        TestRunResult result = object.program("xdp_count").testRun(udpFrame(PORT), 10);
        assertEquals(XDP_PASS, result.retval());
        assertEquals(10, hits(Hit.XDP) - before);
    }

    @Test
    void aFrameShorterThanAnEthernetHeaderIsRefusedWithTheErrno() {
        BpfException e = assertThrows(BpfException.class, () -> object.program("tc_ingress").testRun(new byte[10], 1));
        assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
        assertTrue(e.getMessage().contains("tc_ingress"), e.getMessage());
    }

    @Test
    void aProgramTypeWithoutTestRunsIsRefused() {
        // cgroup/connect4 (BPF_PROG_TYPE_CGROUP_SOCK_ADDR) has no test_run in the kernel: ENOTSUPP (524).
        BpfException e = assertThrows(BpfException.class, () -> object.program("cg_connect4").testRun(udpFrame(PORT), 1));
        assertTrue(e.errno() == Errno.ENOTSUPP || e.errno() == Errno.EOPNOTSUPP || e.errno() == Errno.EINVAL, e.getMessage());
    }

    @Test
    void repeatMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> object.program("tc_ingress").testRun(udpFrame(PORT), 0));
    }
}
