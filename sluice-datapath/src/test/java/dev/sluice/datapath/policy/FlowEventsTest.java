package dev.sluice.datapath.policy;

import dev.sluice.datapath.Cleanup;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.datapath.abi.FlowEventType;
import dev.sluice.datapath.abi.FlowReply;
import dev.sluice.datapath.abi.FlowVerdict;
import dev.sluice.datapath.flow.FlowStructs;
import dev.sluice.datapath.flow.FlowStructs.FlowConfig;
import dev.sluice.datapath.flow.FlowStructs.FlowEvent;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.RingBufferReader;
import dev.sluice.linux.NetNs;
import dev.sluice.testing.Names;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

import static dev.sluice.datapath.abi.Direction.EGRESS;
import static dev.sluice.datapath.abi.Direction.INGRESS;
import static dev.sluice.datapath.abi.Protocol.ICMP;
import static dev.sluice.datapath.abi.Protocol.TCP;
import static dev.sluice.datapath.policy.PolicyTestMaps.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Flow events of the policy programs, read from the real ring buffer after real connections between two
 * pod namespaces (client X 198.51.100.21, server S .23) routed by a node namespace. S enforces ingress:
 * X may reach TCP 8080 (rule 77); anything else is the default deny (attributed to rule 99).
 */
class FlowEventsTest {
    private static final int ALLOWED = 8080;
    private static final int DENIED = 9090;
    private static final int UDP_PORT = 5353;
    private static final int ALLOW_RULE = 77;
    private static final int DEFAULT_DENY_RULE = 99;
    /** Small enough to overfill with a few thousand drops: 64 KiB holds ~740 events. */
    private static final int RING_BYTES = 64 * 1024;
    private static final String X = "198.51.100.21";
    private static final String S = "198.51.100.23";

    private static final Cleanup cleanup = new Cleanup();
    private static BpfObject object;
    private static PolicyTestMaps maps;
    private static NetNs node;
    private static NetNs xNs;
    private static NetNs sNs;
    private static int xIfindex;
    private static int sIfindex;

    private final List<FlowEvent> events = new CopyOnWriteArrayList<>();
    private RingBufferReader<FlowEvent> reader;
    private long lostBefore;

    @BeforeAll
    static void setUp() {
        Privileged.require();
        try {
            object = cleanup.add(Programs.open(Programs.POD_POLICY).setMaxEntries(FlowStructs.MAP_EVENTS, RING_BYTES).load());
            maps = new PolicyTestMaps(object);
            node = cleanup.add(NetNs.create(Names.unique("fen")));
            node.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1").orThrow();
            PolicyPods.PodNs x = PolicyPods.create(cleanup, node, object, "fex", X);
            PolicyPods.PodNs s = PolicyPods.create(cleanup, node, object, "fes", S);
            xNs = x.ns();
            sNs = s.ns();
            xIfindex = x.ifindex();
            sIfindex = s.ifindex();
            maps.ipcache(X, 32, 1021);
            maps.ipcache(S, 32, 1023);
            maps.endpoints.update(xIfindex, new EndpointInfo(1021, 21, false, false, 0, 0, ip(X), 0));
            maps.endpoints.update(sIfindex, new EndpointInfo(1023, 23, true, false, DEFAULT_DENY_RULE, 0, ip(S), 0));
            maps.allow(23, INGRESS.value(), 1021, TCP.value(), ALLOWED, ALLOW_RULE);
            cleanup.add(new EchoServers(sNs, S, List.of(ALLOWED, DENIED), UDP_PORT));
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
    void startReading() {
        maps.ct.keys().forEach(maps.ct::delete);
        lostBefore = lost();
        reader = RingBufferReader.start(object.map(FlowStructs.MAP_EVENTS), FlowEvent.CODEC, events::add, 100_000);
    }

    @AfterEach
    void stopReading() {
        level(Aggregation.DISABLED);
        if (reader != null) {
            reader.close();
        }
    }

    private static void level(Aggregation aggregation) {
        object.map(FlowStructs.MAP_CONFIG).typed(Codecs.u32(), FlowConfig.CODEC).update(0, new FlowConfig(aggregation));
    }

    private static long lost() {
        BpfMap map = object.map(FlowStructs.MAP_LOST);
        return map.typedPerCpu(Codecs.u32(), Codecs.u64()).lookup(0).orElseThrow().stream().mapToLong(Long::longValue).sum();
    }

    // ---- traffic

    /** Connects, exchanges a line, closes in order (FIN both ways); the client's local port. */
    private static int exchange(int port) {
        return xNs.call(() -> {
            try (Socket sock = new Socket()) {
                sock.connect(new InetSocketAddress(S, port), 2000);
                sock.setSoTimeout(2000);
                BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.UTF_8));
                OutputStream out = sock.getOutputStream();
                in.readLine();
                out.write("ping\n".getBytes(StandardCharsets.UTF_8));
                assertEquals("ping", in.readLine());
                sock.shutdownOutput();
                while (in.read() >= 0) {
                    // to the server's FIN
                }
                return sock.getLocalPort();
            }
        });
    }

    /** A SYN the policy drops: the local port it came from. */
    private static int refused(int port) {
        return xNs.call(() -> {
            try (Socket sock = new Socket()) {
                sock.bind(new InetSocketAddress(X, 0));
                int local = sock.getLocalPort();
                try {
                    sock.connect(new InetSocketAddress(S, port), 300);
                    throw new AssertionError("connected to a denied port");
                } catch (SocketTimeoutException expected) {
                    return local;
                }
            }
        });
    }

    private List<FlowEvent> await(Predicate<FlowEvent> match, int count) throws InterruptedException {
        long deadline = System.nanoTime() + 3_000_000_000L;
        while (System.nanoTime() < deadline) {
            List<FlowEvent> found = events.stream().filter(match).toList();
            if (found.size() >= count) {
                return found;
            }
            Thread.sleep(20);
        }
        List<FlowEvent> found = events.stream().filter(match).toList();
        throw new AssertionError("expected " + count + " matching events, found " + found.size() + " in " + events);
    }

    /** Waits until the reader has nothing more to hand over (the ring is drained). */
    private void settle() throws InterruptedException {
        int size;
        do {
            size = events.size();
            Thread.sleep(250);
        } while (events.size() != size);
    }

    private static Predicate<FlowEvent> of(int localPort, int port) {
        int x = FlowStructs.ipv4(ip(X));
        return e -> (e.saddr() == x && e.sport() == localPort && e.dport() == port)
                || (e.daddr() == x && e.dport() == localPort && e.sport() == port);
    }

    // ---- tests

    @Test
    void mediumReportsEachConnectionsStartAndEndAtBothEndpointsAndEachDrop() throws Exception {
        level(Aggregation.MEDIUM);
        int port = exchange(ALLOWED);
        List<FlowEvent> starts = await(of(port, ALLOWED).and(e -> e.type() == FlowEventType.POLICY_VERDICT.value()), 2);
        FlowEvent atClient = starts.stream().filter(e -> e.ifindex() == xIfindex).findFirst().orElseThrow();
        FlowEvent atServer = starts.stream().filter(e -> e.ifindex() == sIfindex).findFirst().orElseThrow();
        assertEquals(EGRESS.value(), atClient.direction());
        assertEquals(INGRESS.value(), atServer.direction());
        for (FlowEvent e : starts) {
            assertEquals(FlowVerdict.FORWARDED.value(), e.verdict());
            assertEquals(FlowReply.NO.value(), e.reply());
            assertEquals(TCP.value(), e.proto());
            assertEquals(FlowStructs.ipv4(ip(X)), e.saddr());
            assertEquals(FlowStructs.ipv4(ip(S)), e.daddr());
            assertEquals(1021, e.srcIdentity());
            assertEquals(1023, e.dstIdentity());
            assertEquals(0x02, e.tcpFlags(), "the SYN opens the flow");
        }
        assertEquals(ALLOW_RULE, atServer.ruleId(), "the server's ingress names the allow rule");
        assertEquals(0, atClient.ruleId(), "the client enforces no egress policy");

        List<FlowEvent> ends = await(of(port, ALLOWED).and(e -> e.type() == FlowEventType.CONN_END.value()), 2);
        for (FlowEvent e : ends) {
            assertTrue(e.packets() >= 6, "a handshake, a line each way and two FINs: " + e);
            assertTrue(e.bytes() > 0);
            assertTrue((e.tcpFlags() & 0x01) != 0, "the last FIN ends it: " + e);
        }

        int dropped = refused(DENIED);
        FlowEvent drop = await(of(dropped, DENIED).and(e -> e.type() == FlowEventType.DROP.value()), 1).getFirst();
        assertEquals(FlowVerdict.DROPPED.value(), drop.verdict());
        assertEquals(DropReason.POLICY.value(), drop.reason());
        assertEquals(DEFAULT_DENY_RULE, drop.ruleId());
        assertEquals(INGRESS.value(), drop.direction());
        assertEquals(FlowReply.NO.value(), drop.reply(), "decided as a flow's first packet");
        assertEquals(sIfindex, drop.ifindex());
        settle();
        assertTrue(events.stream().noneMatch(e -> e.type() == FlowEventType.TRACE.value()), "medium sends no per-packet trace: " + events);
        assertEquals(0, lost() - lostBefore, "nothing lost while the reader keeps up");
    }

    @Test
    void maximumReportsStartsAndDropsOnly() throws Exception {
        level(Aggregation.MAXIMUM);
        int port = exchange(ALLOWED);
        await(of(port, ALLOWED).and(e -> e.type() == FlowEventType.POLICY_VERDICT.value()), 2);
        int dropped = refused(DENIED);
        await(of(dropped, DENIED).and(e -> e.type() == FlowEventType.DROP.value()), 1);
        settle();
        assertTrue(events.stream().allMatch(e -> e.type() == FlowEventType.POLICY_VERDICT.value() || e.type() == FlowEventType.DROP.value()), events.toString());
    }

    @Test
    void noneReportsEveryPacketAndLowTheFlagsAndFirstReply() throws Exception {
        level(Aggregation.NONE);
        int port = exchange(ALLOWED);
        List<FlowEvent> traces = await(of(port, ALLOWED).and(e -> e.type() == FlowEventType.TRACE.value()), 10);
        assertTrue(traces.stream().anyMatch(e -> e.reply() == FlowReply.YES.value() && e.sport() == ALLOWED), "replies are traced");
        settle();
        long noneTraces = events.stream().filter(of(port, ALLOWED)).count();

        events.clear();
        level(Aggregation.LOW);
        port = exchange(ALLOWED);
        await(of(port, ALLOWED).and(e -> e.type() == FlowEventType.CONN_END.value()), 2);
        settle();
        List<FlowEvent> low = events.stream().filter(of(port, ALLOWED)).filter(e -> e.type() == FlowEventType.TRACE.value()).toList();
        assertTrue(low.stream().allMatch(e -> (e.tcpFlags() & 0x07) != 0 || e.reply() == FlowReply.YES.value()), "flags or first reply: " + low);
        assertTrue(events.stream().filter(of(port, ALLOWED)).count() < noneTraces,
                "low reports fewer events than none: " + low.size() + " vs " + noneTraces);
    }

    /** An allowed ping at level none: the request and the reply, each naming its ICMP type. */
    @Test
    void icmpEventsCarryTheMessageType() throws Exception {
        level(Aggregation.NONE);
        maps.allow(23, INGRESS.value(), 1021, ICMP.value(), 8, ALLOW_RULE); // echo requests from X
        try {
            // As root the JDK sends an ICMP echo request from a raw socket made on this thread.
            assertTrue(xNs.call(() -> java.net.InetAddress.getByName(S).isReachable(2000)), "X pings S");
            List<FlowEvent> icmp = await(e -> e.proto() == ICMP.value(), 4);
            assertTrue(icmp.stream().anyMatch(e -> e.type() == FlowEventType.POLICY_VERDICT.value() && e.tcpFlags() == 8 && e.ifindex() == sIfindex
                    && e.ruleId() == ALLOW_RULE), "the echo request opens the flow at S: " + icmp);
            assertTrue(icmp.stream().anyMatch(e -> e.reply() == FlowReply.YES.value() && e.tcpFlags() == 0), "the echo reply: " + icmp);
        } finally {
            maps.policy.keys().stream().filter(k -> k.proto() == ICMP.value()).forEach(maps.policy::delete);
        }
    }

    @Test
    void disabledReportsNothing() throws Exception {
        level(Aggregation.DISABLED);
        exchange(ALLOWED);
        refused(DENIED);
        settle();
        assertEquals(List.of(), events);
    }

    /**
     * With nobody reading, a flood of denied datagrams overfills the ring: the events that do not fit are
     * counted as lost, and the datapath neither blocks nor slows allowed traffic.
     */
    @Test
    void aFullRingCountsLostEventsAndTrafficStillFlows() throws Exception {
        reader.close();
        reader = null;
        level(Aggregation.MEDIUM);
        int floods = 3 * RING_BYTES / (FlowEvent.SIZE + 8);
        xNs.call(() -> {
            try (DatagramSocket sock = new DatagramSocket()) {
                byte[] data = new byte[16];
                for (int i = 0; i < floods; i++) {
                    sock.send(new DatagramPacket(data, data.length, new InetSocketAddress(S, UDP_PORT)));
                }
            }
            return null;
        });
        long lost = lost() - lostBefore;
        assertTrue(lost >= floods / 2, "lost " + lost + " of " + floods + " drop events");
        int port = exchange(ALLOWED); // still forwarded, ring full or not
        assertTrue(port > 0);

        List<FlowEvent> drained = new CopyOnWriteArrayList<>();
        try (RingBufferReader<FlowEvent> again = RingBufferReader.start(object.map(FlowStructs.MAP_EVENTS), FlowEvent.CODEC,
                drained::add, 100_000)) {
            Thread.sleep(500);
        }
        assertTrue(drained.size() > 100 && drained.size() < floods, "the ring held what fit: " + drained.size());
    }
}
