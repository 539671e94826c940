package dev.sluice.bench.prefilter;

import dev.sluice.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A packet generator: whole Ethernet frames sent out of one device from an AF_PACKET socket, a batch per
 * {@code sendmmsg(2)} call, with {@code PACKET_QDISC_BYPASS} (straight to the driver's xmit, as pktgen does). On a
 * veth the peer's receive path (its XDP program, or netif_rx and the netdev ingress hook) runs in the sender's
 * softirq on the sender's CPU, so a sender pinned to one CPU measures the whole path, generator and dropper, on that
 * core. Made inside the namespace of its device ({@code NetNs.call}); used from the thread that pins itself.
 */
public final class FrameFlood implements AutoCloseable {
    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final int SOL_PACKET = 263;
    private static final int PACKET_QDISC_BYPASS = 20;
    private static final int ETH_P_IP_BE = 0x0008; // htons(0x0800)
    private static final int MMSGHDR = 64;         // struct mmsghdr: msghdr (56) + msg_len (4) + padding
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = handle("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDMMSG = handle("sendmmsg", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle SCHED_SETAFFINITY = handle("sched_setaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));

    private final Arena arena = Arena.ofShared();
    private final int fd;
    private final MemorySegment msgs;
    private final int batch;

    private static MethodHandle handle(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, Libc.errnoOption());
    }

    /**
     * A flood of {@code frames} (cycled through, {@code batch} per call) out of device {@code ifindex}.
     *
     * @param dstMac the destination MAC, 6 bytes (also the sockaddr_ll's address)
     */
    public FrameFlood(int ifindex, byte[] dstMac, List<byte[]> frames, int batch) {
        this.batch = batch;
        try {
            MemorySegment state = Libc.callState(arena);
            fd = (int) SOCKET.invokeExact(state, AF_PACKET, SOCK_RAW, 0); // protocol 0: sends only, receives nothing
            if (fd < 0) {
                throw new IllegalStateException("socket(AF_PACKET): " + Libc.strerror(Libc.errno(state)));
            }
            MemorySegment one = arena.allocate(4);
            one.set(JAVA_INT, 0, 1);
            int r = (int) SETSOCKOPT.invokeExact(state, fd, SOL_PACKET, PACKET_QDISC_BYPASS, one, 4);
            if (r < 0) {
                throw new IllegalStateException("PACKET_QDISC_BYPASS: " + Libc.strerror(Libc.errno(state)));
            }
        } catch (Throwable t) {
            throw t instanceof RuntimeException re ? re : new IllegalStateException(t);
        }
        MemorySegment sll = arena.allocate(20); // struct sockaddr_ll
        sll.set(JAVA_BYTE, 0, (byte) AF_PACKET);
        sll.set(JAVA_BYTE, 2, (byte) (ETH_P_IP_BE & 0xff));
        sll.set(JAVA_BYTE, 3, (byte) (ETH_P_IP_BE >> 8));
        sll.set(JAVA_INT, 4, ifindex);
        sll.set(JAVA_BYTE, 11, (byte) 6);
        MemorySegment.copy(dstMac, 0, sll, JAVA_BYTE, 12, 6);
        msgs = arena.allocate((long) MMSGHDR * batch, 8);
        MemorySegment iovs = arena.allocate(16L * batch, 8);
        for (int i = 0; i < batch; i++) {
            byte[] f = frames.get(i % frames.size());
            MemorySegment buf = arena.allocate(f.length);
            MemorySegment.copy(f, 0, buf, JAVA_BYTE, 0, f.length);
            MemorySegment iov = iovs.asSlice(16L * i, 16);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, f.length);
            MemorySegment m = msgs.asSlice((long) MMSGHDR * i, MMSGHDR);
            m.set(ADDRESS, 0, sll);        // msg_name
            m.set(JAVA_INT, 8, 20);        // msg_namelen
            m.set(ADDRESS, 16, iov);       // msg_iov
            m.set(JAVA_LONG, 24, 1);       // msg_iovlen
        }
    }

    /** Pins the calling thread to one CPU (sched_setaffinity of the thread itself). */
    public static void pinTo(int cpu) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mask = a.allocate(128);
            mask.set(JAVA_BYTE, cpu / 8, (byte) (1 << (cpu % 8)));
            MemorySegment state = Libc.callState(a);
            int r = (int) SCHED_SETAFFINITY.invokeExact(state, 0, 128L, mask);
            if (r < 0) {
                throw new IllegalStateException("sched_setaffinity: " + Libc.strerror(Libc.errno(state)));
            }
        } catch (Throwable t) {
            throw t instanceof RuntimeException re ? re : new IllegalStateException(t);
        }
    }

    /** Sends batches for {@code nanos}; returns how many frames the kernel took. */
    public long floodFor(long nanos) {
        long sent = 0;
        long end = System.nanoTime() + nanos;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(a);
            while (System.nanoTime() < end) {
                int n = (int) SENDMMSG.invokeExact(state, fd, msgs, batch, 0);
                if (n > 0) {
                    sent += n;
                } else if (Libc.errno(state) != 105) { // ENOBUFS: a full queue, try again
                    throw new IllegalStateException("sendmmsg: " + Libc.strerror(Libc.errno(state)));
                }
            }
        } catch (Throwable t) {
            throw t instanceof RuntimeException re ? re : new IllegalStateException(t);
        }
        return sent;
    }

    @Override
    public void close() {
        Libc.close(fd);
        arena.close();
    }
}
