package dev.sluice.libbpf;

import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;

import static dev.sluice.libbpf.Codecs.BE16;
import static dev.sluice.libbpf.Codecs.U32;
import static dev.sluice.libbpf.Codecs.U64;
import static dev.sluice.libbpf.Codecs.U8;

/** Java mirrors of src/test/bpf/include/binding_test.h, one record and one codec per struct. */
final class TestStructs {
    private TestStructs() {
    }

    /** struct test_key (12 bytes, a padding byte inside). */
    record TestKey(Inet4Address address, int port, int protocol, int id) {
        static final StructLayout LAYOUT = StructLayout.of("test_key", 12)
                .field("addr", 0, 4).field("port", 4, 2).field("proto", 6, 1).reserved("pad", 7, 1).field("id", 8, 4);
        static final Codec<TestKey> CODEC = Codec.of(LAYOUT,
                s -> new TestKey(Codecs.ipv4(s, 0), Short.toUnsignedInt(s.get(BE16, 4)), Byte.toUnsignedInt(s.get(U8, 6)), s.get(U32, 8)),
                (k, s) -> {
                    Codecs.putIpv4(s, 0, k.address());
                    s.set(BE16, 4, (short) k.port());
                    s.set(U8, 6, (byte) k.protocol());
                    s.set(U32, 8, k.id());
                });
    }

    /** struct test_value (16 bytes). */
    record TestValue(long packets, long bytes) {
        static final StructLayout LAYOUT = StructLayout.of("test_value", 16).field("packets", 0, 8).field("bytes", 8, 8);
        static final Codec<TestValue> CODEC = Codec.of(LAYOUT,
                s -> new TestValue(s.get(U64, 0), s.get(U64, 8)),
                (v, s) -> {
                    s.set(U64, 0, v.packets());
                    s.set(U64, 8, v.bytes());
                });
    }

    /** struct packet_event (32 bytes). */
    record PacketEvent(long timestampNs, int ifindex, int length, Inet4Address source, Inet4Address destination,
                       int sourcePort, int destinationPort, int protocol, boolean egress) {
        static final StructLayout LAYOUT = StructLayout.of("packet_event", 32)
                .field("timestamp_ns", 0, 8).field("ifindex", 8, 4).field("len", 12, 4).field("saddr", 16, 4).field("daddr", 20, 4)
                .field("sport", 24, 2).field("dport", 26, 2).field("proto", 28, 1).field("direction", 29, 1).reserved("pad", 30, 2);
        static final Codec<PacketEvent> CODEC = Codec.of(LAYOUT, TestStructs.PacketEvent::decode, (e, s) -> {
            throw new UnsupportedOperationException("events are only read");
        });

        private static PacketEvent decode(MemorySegment s) {
            return new PacketEvent(s.get(U64, 0), s.get(U32, 8), s.get(U32, 12), Codecs.ipv4(s, 16), Codecs.ipv4(s, 20),
                    Short.toUnsignedInt(s.get(BE16, 24)), Short.toUnsignedInt(s.get(BE16, 26)),
                    Byte.toUnsignedInt(s.get(U8, 28)), s.get(U8, 29) == 1);
        }
    }

    /** Indexes into the "hits" array (enum hook_counter). */
    enum Hit {
        TC_INGRESS, TC_EGRESS, XDP, CONNECT4, SENDMSG4, RECVMSG4, GETPEERNAME4, SOCK_RELEASE, SOCKOPS_ESTABLISHED,
        SK_MSG, RINGBUF_LOST
    }
}
