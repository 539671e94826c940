package dev.sluice.testing;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Plain BSD sockets through FFM, for tests that need what Java's socket classes hide: the file
 * descriptor (to put a socket into a SOCKHASH) and real getpeername(2)/sendto(2)/recvfrom(2) calls (to
 * fire the cgroup hooks that watch them).
 */
public final class TestSockets {
    public static final int AF_INET = 2;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = fn("socket", JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle CONNECT = fn("connect", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle BIND = fn("bind", JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle LISTEN = fn("listen", JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle GETPEERNAME = fn("getpeername", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle GETSOCKNAME = fn("getsockname", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle SEND = fn("send", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
    private static final MethodHandle SENDTO = fn("sendto", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
    private static final MethodHandle RECVFROM = fn("recvfrom", JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
    private static final MethodHandle CLOSE = fn("close", JAVA_INT, JAVA_INT);
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private TestSockets() {
    }

    private static MethodHandle fn(String name, ValueLayout result, ValueLayout... args) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), FunctionDescriptor.of(result, args));
    }

    /** struct sockaddr_in for 127.0.0.1:port. */
    static MemorySegment loopback(Arena arena, int port) {
        MemorySegment sa = arena.allocate(16);
        sa.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET);
        sa.set(BE16, 2, (short) port);
        sa.set(ValueLayout.JAVA_BYTE, 4, (byte) 127);
        sa.set(ValueLayout.JAVA_BYTE, 7, (byte) 1);
        return sa;
    }

    private static int check(int rc, String what) {
        if (rc < 0) {
            throw new IllegalStateException(what + " failed");
        }
        return rc;
    }

    public static int socket(int type) throws Throwable {
        return check((int) SOCKET.invokeExact(AF_INET, type, 0), "socket");
    }

    public static void connectLoopback(int fd, int port) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            check((int) CONNECT.invokeExact(fd, loopback(arena, port), 16), "connect to 127.0.0.1:" + port);
        }
    }

    /** A TCP socket listening on 127.0.0.1 with a port the kernel chose; returns {fd, port}. */
    public static int[] listenLoopback() throws Throwable {
        int fd = socket(SOCK_STREAM);
        try (Arena arena = Arena.ofConfined()) {
            check((int) BIND.invokeExact(fd, loopback(arena, 0), 16), "bind");
            check((int) LISTEN.invokeExact(fd, 16), "listen");
            MemorySegment sa = arena.allocate(16);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 16);
            check((int) GETSOCKNAME.invokeExact(fd, sa, len), "getsockname");
            return new int[] {fd, Short.toUnsignedInt(sa.get(BE16, 2))};
        }
    }

    /** getpeername(2); returns the peer's port. */
    public static int peerPort(int fd) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = arena.allocate(16);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 16);
            check((int) GETPEERNAME.invokeExact(fd, sa, len), "getpeername");
            return Short.toUnsignedInt(sa.get(BE16, 2));
        }
    }

    public static void send(int fd, byte[] data) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            long n = (long) SEND.invokeExact(fd, arena.allocateFrom(ValueLayout.JAVA_BYTE, data), (long) data.length, 0);
            if (n != data.length) {
                throw new IllegalStateException("send wrote " + n + " of " + data.length);
            }
        }
    }

    public static void sendToLoopback(int fd, int port, byte[] data) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            long n = (long) SENDTO.invokeExact(fd, arena.allocateFrom(ValueLayout.JAVA_BYTE, data), (long) data.length, 0,
                    loopback(arena, port), 16);
            if (n != data.length) {
                throw new IllegalStateException("sendto wrote " + n + " of " + data.length);
            }
        }
    }

    /** recvfrom(2) with a source address, as unconnected UDP clients read replies. */
    public static int receiveFrom(int fd) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(2048);
            MemorySegment sa = arena.allocate(16);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 16);
            long n = (long) RECVFROM.invokeExact(fd, buf, 2048L, 0, sa, len);
            if (n < 0) {
                throw new IllegalStateException("recvfrom failed");
            }
            return (int) n;
        }
    }

    public static void close(int fd) throws Throwable {
        int ignored = (int) CLOSE.invokeExact(fd);
    }
}
