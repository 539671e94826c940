package dev.sluice.libbpf;

import dev.sluice.libbpf.TestStructs.PacketEvent;
import dev.sluice.testing.Privileged;
import dev.sluice.testing.VethPair;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Ring-buffer events produced by real packets, and what the reader does when its consumer is slow. */
class RingBufferTest {
    private static final int PORT = 9100;
    private static BpfObject object;

    @BeforeAll
    static void load() {
        Privileged.require();
        object = BpfObject.openResource(RingBufferTest.class, "/bpf/binding_test.bpf.o").load();
        object.map("config").typed(Codecs.u32(), Codecs.u32()).update(0, PORT);
    }

    @AfterAll
    static void close() {
        if (object != null) {
            object.close();
        }
    }


    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }

    @Test
    void everyPacketBecomesADecodedEvent() throws Exception {
        ConcurrentLinkedQueue<PacketEvent> events = new ConcurrentLinkedQueue<>();
        try (VethPair pair = new VethPair();
             BpfLink link = pair.b.call(() -> object.program("tc_ingress").attachTcx(pair.ifindexB(), TcDirection.INGRESS));
             RingBufferReader<PacketEvent> reader = RingBufferReader.start(object.map("events"), PacketEvent.CODEC, events::add, 1024)) {
            int ifindex = pair.ifindexB();
            Traffic.udp(pair.a, VethPair.ADDRESS_B, PORT, 50);
            waitFor(() -> events.size() >= 50);

            List<PacketEvent> ours = events.stream().filter(e -> e.destinationPort() == PORT).toList();
            assertEquals(50, ours.size(), "one event per packet");
            for (PacketEvent e : ours) {
                assertEquals(VethPair.ADDRESS_A, e.source().getHostAddress());
                assertEquals(VethPair.ADDRESS_B, e.destination().getHostAddress());
                assertEquals(17, e.protocol());
                assertEquals(ifindex, e.ifindex());
                assertTrue(!e.egress() && e.length() > 28 && e.timestampNs() > 0, e.toString());
            }
            assertEquals(50, reader.received());
            assertEquals(0, reader.dropped());
        }
    }

    /** Records submitted with BPF_RB_NO_WAKEUP never signal the reader's epoll; it reads them on its timer. */
    @Test
    void recordsSubmittedWithoutWakeUpAreReadWithinThePollInterval() throws Exception {
        ConcurrentLinkedQueue<PacketEvent> events = new ConcurrentLinkedQueue<>();
        var flags = object.map("submit_flags").typed(Codecs.u32(), Codecs.u64());
        flags.update(0, 1L); // BPF_RB_NO_WAKEUP
        try (VethPair pair = new VethPair();
             BpfLink link = pair.b.call(() -> object.program("tc_ingress").attachTcx(pair.ifindexB(), TcDirection.INGRESS));
             RingBufferReader<PacketEvent> reader = RingBufferReader.start(object.map("events"), PacketEvent.CODEC, events::add, 1024)) {
            Thread.sleep(2 * RingBufferReader.POLL_TIMEOUT_MS); // the reader is asleep in epoll_wait
            long sent = System.nanoTime();
            Traffic.udp(pair.a, VethPair.ADDRESS_B, PORT, 20);
            waitFor(() -> events.size() >= 20);
            long ms = (System.nanoTime() - sent) / 1_000_000;
            assertEquals(20, events.size());
            assertTrue(ms < 20 * RingBufferReader.POLL_TIMEOUT_MS, "read after " + ms + " ms");
        } finally {
            flags.update(0, 0L);
        }
    }

    @Test
    void aStalledConsumerNeverStallsTheReaderAndDropsAreCounted() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        ConcurrentLinkedQueue<PacketEvent> handled = new ConcurrentLinkedQueue<>();
        try (VethPair pair = new VethPair();
             BpfLink link = pair.b.call(() -> object.program("tc_ingress").attachTcx(pair.ifindexB(), TcDirection.INGRESS));
             RingBufferReader<PacketEvent> reader = RingBufferReader.start(object.map("events"), PacketEvent.CODEC, e -> {
                 try {
                     release.await();
                 } catch (InterruptedException ignored) {
                     Thread.currentThread().interrupt();
                 }
                 handled.add(e);
             }, 4)) {
            Traffic.udp(pair.a, VethPair.ADDRESS_B, PORT, 200);
            waitFor(() -> reader.received() + reader.dropped() >= 200);
            assertEquals(200, reader.received() + reader.dropped(), "every event was either queued or counted as dropped");
            assertTrue(reader.dropped() >= 190, "dropped " + reader.dropped());
            release.countDown();
            waitFor(() -> handled.size() == reader.received());
            assertEquals(reader.received(), handled.size(), "queued events still reach the handler");
        }
    }
}
