package dev.sluice.testing;

import dev.sluice.linux.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Raw sockets for the tests that need packets no ordinary socket sends: a forged source address, IP
 * protocol 253, SCTP without the kernel's SCTP, a lone later fragment, an IPv6 frame. Plain libc through
 * FFM; a socket belongs to the network namespace of the thread that made it (make it inside
 * {@code NetNs.call}), and may be used from any thread after that.
 */
public final class RawSockets implements AutoCloseable {
    public static final int AF_INET = 2;
    public static final int AF_PACKET = 17;
    public static final int SOCK_RAW = 3;
    public static final int IPPROTO_RAW = 255;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int ETH_P_ALL = 0x0003;
    private static final int ENOBUFS = 105;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = handle("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SENDTO = handle("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle RECV = handle("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    private final int fd;

    private RawSockets(int fd) {
        this.fd = fd;
    }

    private static MethodHandle handle(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(), d, Libc.errnoOption());
    }

    /** An AF_INET raw socket of {@code proto}: the kernel writes the IP header, unless proto is IPPROTO_RAW. */
    public static RawSockets ip(int proto) {
        return open(AF_INET, proto);
    }

    /** An AF_PACKET socket: whole Ethernet frames, sent out of the device given to {@link #sendFrame}. */
    public static RawSockets packet() {
        return open(AF_PACKET, Short.toUnsignedInt(Short.reverseBytes((short) ETH_P_ALL)));
    }

    private static RawSockets open(int family, int proto) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Libc.callState(arena);
            int fd = (int) SOCKET.invokeExact(state, family, SOCK_RAW, proto);
            if (fd < 0) {
                throw new IllegalStateException("socket(" + family + ", SOCK_RAW, " + proto + "): " + Libc.strerror(Libc.errno(state)));
            }
            MemorySegment tv = arena.allocate(16);
            tv.set(JAVA_LONG, 0, 0);
            tv.set(JAVA_LONG, 8, 200_000); // receive timeout 200 ms
            int ignored = (int) SETSOCKOPT.invokeExact(state, fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
            return new RawSockets(fd);
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /** Sends {@code bytes} (an IP packet or payload, as the socket's protocol says) to {@code to}. */
    public void sendTo(Inet4Address to, byte[] bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sin = arena.allocate(16);
            sin.set(JAVA_BYTE, 0, (byte) AF_INET); // sin_family, little-endian short
            MemorySegment.copy(to.getAddress(), 0, sin, JAVA_BYTE, 4, 4);
            send(arena, bytes, sin, 16);
        }
    }

    /** Sends a whole Ethernet frame out of device {@code ifindex} (of this socket's namespace). */
    public void sendFrame(int ifindex, byte[] frame) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sll = arena.allocate(20); // struct sockaddr_ll
            sll.set(JAVA_BYTE, 0, (byte) AF_PACKET);
            sll.set(JAVA_BYTE, 2, frame[12]); // sll_protocol: the frame's ethertype, network order
            sll.set(JAVA_BYTE, 3, frame[13]);
            sll.set(JAVA_INT, 4, ifindex);
            sll.set(JAVA_BYTE, 11, (byte) 6); // sll_halen
            MemorySegment.copy(frame, 0, sll, JAVA_BYTE, 12, 6);
            send(arena, frame, sll, 20);
        }
    }

    private void send(Arena arena, byte[] bytes, MemorySegment address, int length) {
        MemorySegment buf = arena.allocate(bytes.length);
        MemorySegment.copy(bytes, 0, buf, JAVA_BYTE, 0, bytes.length);
        MemorySegment state = Libc.callState(arena);
        try {
            long n = (long) SENDTO.invokeExact(state, fd, buf, (long) bytes.length, 0, address, length);
            // ENOBUFS: a program on the device's egress dropped it (NET_XMIT_DROP), which the caller checks for itself.
            if (n != bytes.length && Libc.errno(state) != ENOBUFS) {
                throw new IllegalStateException("sendto: " + n + ": " + Libc.strerror(Libc.errno(state)));
            }
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /** The next packet this socket receives (for an AF_INET raw socket, with its IP header), or null after 200 ms. */
    public byte[] receive() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(65536);
            MemorySegment state = Libc.callState(arena);
            long n = (long) RECV.invokeExact(state, fd, buf, 65536L, 0);
            return n < 0 ? null : Arrays.copyOf(buf.toArray(JAVA_BYTE), (int) n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Whether a packet containing {@code marker} arrives within {@code millis}. */
    public boolean receives(byte[] marker, long millis) {
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            byte[] p = receive();
            if (p != null && indexOf(p, marker) >= 0) {
                return true;
            }
        }
        return false;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Override
    public void close() {
        Libc.close(fd);
    }

    // ---- packets

    /** The Internet checksum of {@code b[off, off+len)}, folded, with an initial sum. */
    public static int checksum(byte[] b, int off, int len, long initial) {
        long sum = initial;
        for (int i = 0; i + 1 < len; i += 2) {
            sum += ((b[off + i] & 0xff) << 8) | (b[off + i + 1] & 0xff);
        }
        if ((len & 1) != 0) {
            sum += (b[off + len - 1] & 0xff) << 8;
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int) (~sum & 0xffff);
    }

    /**
     * An IPv4 packet with a 20-byte header (checksummed) and {@code l4} as its payload. {@code fragOff} is
     * iphdr.frag_off in host order (flags and offset in 8-byte units).
     */
    public static byte[] ipv4(Inet4Address src, Inet4Address dst, int proto, int id, int fragOff, byte[] l4) {
        ByteBuffer b = ByteBuffer.allocate(20 + l4.length).order(ByteOrder.BIG_ENDIAN);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + l4.length)).putShort((short) id).putShort((short) fragOff)
                .put((byte) 64).put((byte) proto).putShort((short) 0).put(src.getAddress()).put(dst.getAddress()).put(l4);
        byte[] p = b.array();
        int sum = checksum(p, 0, 20, 0);
        p[10] = (byte) (sum >> 8);
        p[11] = (byte) sum;
        return p;
    }

    /** A TCP SYN (no options), with its checksum over the pseudo header. */
    public static byte[] tcpSyn(Inet4Address src, Inet4Address dst, int sport, int dport, int seq) {
        ByteBuffer t = ByteBuffer.allocate(20).order(ByteOrder.BIG_ENDIAN);
        t.putShort((short) sport).putShort((short) dport).putInt(seq).putInt(0).put((byte) 0x50).put((byte) 0x02)
                .putShort((short) 64240).putShort((short) 0).putShort((short) 0);
        byte[] tcp = t.array();
        long pseudo = 0;
        byte[] s = src.getAddress();
        byte[] d = dst.getAddress();
        pseudo += ((s[0] & 0xff) << 8 | (s[1] & 0xff)) + ((s[2] & 0xff) << 8 | (s[3] & 0xff));
        pseudo += ((d[0] & 0xff) << 8 | (d[1] & 0xff)) + ((d[2] & 0xff) << 8 | (d[3] & 0xff));
        pseudo += 6 + 20;
        int sum = checksum(tcp, 0, 20, pseudo);
        tcp[16] = (byte) (sum >> 8);
        tcp[17] = (byte) sum;
        return tcp;
    }
}
