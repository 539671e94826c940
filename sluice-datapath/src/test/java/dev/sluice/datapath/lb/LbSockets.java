package dev.sluice.datapath.lb;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * BSD sockets through FFM with errno, for the socket-LB client: Java's socket classes cache the address
 * given to connect() and never call getpeername(2), and do not say which errno connect() failed with,
 * which are exactly what the socket hooks change.
 */
final class LbSockets {
    static final int AF_INET = 2;
    static final int SOCK_STREAM = 1;
    static final int SOCK_DGRAM = 2;
    static final int ECONNREFUSED = 111;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int SO_SNDTIMEO = 21;
    private static final int SO_NO_CHECK = 11;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private static final MethodHandle SOCKET = fn("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle CONNECT = fn("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle GETPEERNAME = fn("getpeername", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle SETSOCKOPT = fn("setsockopt", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle SEND = fn("send", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle RECV = fn("recv", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle SENDTO = fn("sendto", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle RECVFROM = fn("recvfrom", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle CLOSE = fn("close", JAVA_INT, JAVA_INT);
    private static final MethodHandle IOCTL = LINKER.downcallHandle(LINKER.defaultLookup().find("ioctl").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2),
            Linker.Option.captureCallState("errno"));
    private static final long SIOCETHTOOL = 0x8946;
    private static final int ETHTOOL_STXCSUM = 0x17;

    private LbSockets() {
    }

    private static MethodHandle fn(String name, ValueLayout result, ValueLayout... args) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(),
                FunctionDescriptor.of(result, args), Linker.Option.captureCallState("errno"));
    }

    /** A failed call, with its errno. */
    static final class SocketError extends RuntimeException {
        final int errno;

        SocketError(String what, int errno) {
            super(what + " failed: errno " + errno);
            this.errno = errno;
        }
    }

    private static long check(long rc, MemorySegment state, String what) {
        if (rc < 0) {
            throw new SocketError(what, (int) ERRNO.get(state, 0L));
        }
        return rc;
    }

    static MemorySegment sockaddr(Arena arena, String address, int port) {
        MemorySegment sa = arena.allocate(16);
        sa.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET);
        sa.set(BE16, 2, (short) port);
        String[] parts = address.split("\\.");
        for (int i = 0; i < 4; i++) {
            sa.set(ValueLayout.JAVA_BYTE, 4 + i, (byte) Integer.parseInt(parts[i]));
        }
        return sa;
    }

    static String format(MemorySegment sa) {
        return (sa.get(ValueLayout.JAVA_BYTE, 4) & 0xff) + "." + (sa.get(ValueLayout.JAVA_BYTE, 5) & 0xff) + "."
                + (sa.get(ValueLayout.JAVA_BYTE, 6) & 0xff) + "." + (sa.get(ValueLayout.JAVA_BYTE, 7) & 0xff) + ":"
                + Short.toUnsignedInt(sa.get(BE16, 2));
    }

    /** A socket whose reads and writes give up after {@code timeoutMillis}. */
    static int socket(int type, int timeoutMillis) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int fd = (int) check((int) SOCKET.invokeExact(state, AF_INET, type, 0), state, "socket");
            MemorySegment tv = arena.allocate(16); // struct timeval
            tv.set(JAVA_LONG, 0, timeoutMillis / 1000L);
            tv.set(JAVA_LONG, 8, (timeoutMillis % 1000L) * 1000L);
            check((int) SETSOCKOPT.invokeExact(state, fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), state, "setsockopt");
            check((int) SETSOCKOPT.invokeExact(state, fd, SOL_SOCKET, SO_SNDTIMEO, tv, 16), state, "setsockopt");
            return fd;
        }
    }

    /** SO_NO_CHECK: this UDP socket sends datagrams with checksum 0 ("none"). */
    static void noChecksum(int fd) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            MemorySegment one = arena.allocate(JAVA_INT);
            one.set(JAVA_INT, 0, 1);
            check((int) SETSOCKOPT.invokeExact(state, fd, SOL_SOCKET, SO_NO_CHECK, one, 4), state, "setsockopt SO_NO_CHECK");
        }
    }

    /**
     * Turns a device's transmit checksum offload on or off (what {@code ethtool -K DEV tx off} does),
     * for the calling thread's network namespace. Off, the stack completes checksums in software before
     * the device sends, so the receiver really checks them instead of trusting CHECKSUM_PARTIAL.
     */
    static void txChecksum(String device, boolean on) throws Throwable {
        int fd = socket(SOCK_DGRAM, 1000);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            MemorySegment value = arena.allocate(8); // struct ethtool_value { cmd; data; }
            value.set(JAVA_INT, 0, ETHTOOL_STXCSUM);
            value.set(JAVA_INT, 4, on ? 1 : 0);
            MemorySegment ifreq = arena.allocate(40); // struct ifreq { ifr_name[16]; ifr_data; ... }
            byte[] name = device.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(name, 0, ifreq, ValueLayout.JAVA_BYTE, 0, name.length);
            ifreq.set(ADDRESS, 16, value);
            check((int) IOCTL.invokeExact(state, fd, SIOCETHTOOL, ifreq), state,
                    "ETHTOOL_STXCSUM on " + device);
        } finally {
            close(fd);
        }
    }

    static void connect(int fd, String address, int port) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            check((int) CONNECT.invokeExact(state, fd, sockaddr(arena, address, port), 16), state, "connect to " + address + ":" + port);
        }
    }

    /** getpeername(2) as "a.b.c.d:port". */
    static String peer(int fd) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            MemorySegment sa = arena.allocate(16);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 16);
            check((int) GETPEERNAME.invokeExact(state, fd, sa, len), state, "getpeername");
            return format(sa);
        }
    }

    static void send(int fd, String text) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            byte[] data = text.getBytes(StandardCharsets.UTF_8);
            check((long) SEND.invokeExact(state, fd, arena.allocateFrom(ValueLayout.JAVA_BYTE, data), (long) data.length, 0), state, "send");
        }
    }

    /** Reads up to the first newline (or end of stream). */
    static String readLine(int fd) throws Throwable {
        StringBuilder out = new StringBuilder();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            MemorySegment buf = arena.allocate(1);
            while (true) {
                long n = check((long) RECV.invokeExact(state, fd, buf, 1L, 0), state, "recv");
                if (n == 0 || buf.get(ValueLayout.JAVA_BYTE, 0) == '\n') {
                    return out.toString();
                }
                out.append((char) buf.get(ValueLayout.JAVA_BYTE, 0));
            }
        }
    }

    static void sendTo(int fd, String address, int port, String text) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            byte[] data = text.getBytes(StandardCharsets.UTF_8);
            check((long) SENDTO.invokeExact(state, fd, arena.allocateFrom(ValueLayout.JAVA_BYTE, data), (long) data.length, 0,
                    sockaddr(arena, address, port), 16), state, "sendto " + address + ":" + port);
        }
    }

    /** recvfrom(2): {payload, "a.b.c.d:port" of the source}. */
    static String[] receiveFrom(int fd) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            MemorySegment buf = arena.allocate(2048);
            MemorySegment sa = arena.allocate(16);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 16);
            long n = check((long) RECVFROM.invokeExact(state, fd, buf, 2048L, 0, sa, len), state, "recvfrom");
            byte[] data = buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
            return new String[] {new String(data, StandardCharsets.UTF_8), format(sa)};
        }
    }

    static void close(int fd) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) CLOSE.invokeExact(arena.allocate(STATE), fd);
        }
    }
}
