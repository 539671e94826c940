package dev.sluice.libbpf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Codecs for the scalar fields of map structs. Numbers are in host byte order, as BPF programs see them;
 * addresses are in network byte order, as they sit in packets.
 */
public final class Codecs {
    public static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    public static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    public static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    public static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    /** A 16-bit field in network byte order, such as a port. */
    public static final ValueLayout.OfShort BE16 = U16.withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    private Codecs() {
    }

    public static Codec<Integer> u16() {
        return Codec.of(2, s -> Short.toUnsignedInt(s.get(U16, 0)), (v, s) -> s.set(U16, 0, (short) (int) v));
    }

    public static Codec<Integer> u32() {
        return Codec.of(4, s -> s.get(U32, 0), (v, s) -> s.set(U32, 0, v));
    }

    public static Codec<Long> u64() {
        return Codec.of(8, s -> s.get(U64, 0), (v, s) -> s.set(U64, 0, v));
    }

    /** Raw bytes of a fixed length. */
    public static Codec<byte[]> bytes(int length) {
        return Codec.of(length, s -> s.toArray(U8), (v, s) -> {
            if (v.length != length) {
                throw new IllegalArgumentException("expected " + length + " bytes, got " + v.length);
            }
            MemorySegment.copy(v, 0, s, U8, 0, length);
        });
    }

    /** An IPv4 address as the 4 bytes of a {@code __be32}. */
    public static Codec<Inet4Address> ipv4() {
        return Codec.of(4, s -> ipv4(s, 0), (v, s) -> putIpv4(s, 0, v));
    }

    public static Inet4Address ipv4(MemorySegment s, long offset) {
        try {
            return (Inet4Address) InetAddress.getByAddress(s.asSlice(offset, 4).toArray(U8));
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    public static void putIpv4(MemorySegment s, long offset, Inet4Address address) {
        MemorySegment.copy(address.getAddress(), 0, s, U8, offset, 4);
    }

    /** The key of an LPM trie over {@code data}: a 32-bit prefix length followed by the data. */
    public static <T> Codec<Lpm<T>> lpm(Codec<T> data) {
        return Codec.of(4 + data.size(),
                s -> new Lpm<>(s.get(U32, 0), data.decode(s.asSlice(4, data.size()))),
                (v, s) -> {
                    s.set(U32, 0, v.prefixLength());
                    data.encode(v.data(), s.asSlice(4, data.size()));
                });
    }

    /**
     * A per-CPU map value: one {@code value} per possible CPU, each slot rounded up to 8 bytes, as the
     * kernel lays them out for user space.
     */
    public static <T> Codec<List<T>> perCpu(Codec<T> value, int cpus) {
        long stride = (value.size() + 7) & ~7L;
        return Codec.of(stride * cpus, s -> {
            List<T> out = new ArrayList<>(cpus);
            for (int cpu = 0; cpu < cpus; cpu++) {
                out.add(value.decode(s.asSlice(cpu * stride, value.size())));
            }
            return out;
        }, (values, s) -> {
            if (values.size() != cpus) {
                throw new IllegalArgumentException("per-CPU value needs " + cpus + " entries, got " + values.size());
            }
            for (int cpu = 0; cpu < cpus; cpu++) {
                value.encode(values.get(cpu), s.asSlice(cpu * stride, value.size()));
            }
        });
    }
}
