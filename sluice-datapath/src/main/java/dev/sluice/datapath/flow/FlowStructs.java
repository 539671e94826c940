package dev.sluice.datapath.flow;

import dev.sluice.datapath.abi.Aggregation;
import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.StructLayout;

import java.lang.foreign.MemorySegment;

import static dev.sluice.libbpf.Codecs.U32;
import static dev.sluice.libbpf.Codecs.U64;
import static dev.sluice.libbpf.Codecs.U8;

/**
 * Java mirrors of bpf/include/flow.h: the event the datapath writes to the {@value #MAP_EVENTS} ring
 * buffer and the {@value #MAP_CONFIG} entry the agent writes. Addresses are IPv4 addresses as ints in
 * network order (the first octet in the high byte, as {@code Inet4Address.getByAddress} takes them) and
 * ports plain ints: an event is decoded on the ingestion path, where an InetAddress per field would cost
 * more than the rest of the decoding.
 */
public final class FlowStructs {
    /** Map names in every object that includes bpf/include/flow_maps.h. */
    public static final String MAP_EVENTS = "flow_events";
    /** PERCPU_ARRAY of one u64: events the ring had no room for, per CPU. */
    public static final String MAP_LOST = "flow_lost";
    public static final String MAP_CONFIG = "flow_config";

    public static final int DEFAULT_RING_BYTES = 4 * 1024 * 1024;

    private FlowStructs() {
    }

    /** struct flow_config */
    public record FlowConfig(Aggregation aggregation) {
        public static final StructLayout LAYOUT = StructLayout.of("flow_config", 8).field("level", 0, 4)
                .reserved("pad", 4, 4);

        public static final Codec<FlowConfig> CODEC = Codec.of(LAYOUT,
                s -> new FlowConfig(Aggregation.of(s.get(U32, 0)).orElse(Aggregation.MAXIMUM)),
                (v, s) -> {
                    s.set(U32, 0, v.aggregation().value());
                    s.set(U32, 4, 0);
                });
    }

    /**
     * struct flow_event; {@code tcpFlags} holds an ICMP message's type when {@code proto} is ICMP. The ABI fields stay
     * ints, as on the wire (decoding runs per event): {@code proto} is a {@link dev.sluice.datapath.abi.Protocol},
     * {@code type} a {@link dev.sluice.datapath.abi.FlowEventType}, {@code verdict} a
     * {@link dev.sluice.datapath.abi.FlowVerdict}, {@code direction} a {@link dev.sluice.datapath.abi.Direction},
     * {@code reply} a {@link dev.sluice.datapath.abi.FlowReply}, {@code reason} a
     * {@link dev.sluice.datapath.abi.DropReason}; their {@code orNull}/{@code displayName(int)} decode them. An IPv6
     * packet's addresses ({@code ipVersion} {@link #IP_V6}; {@code saddr} and {@code daddr} are 0 then) are held as
     * two longs each, the address's first 8 bytes in {@code ...Hi}, big-endian, so that the record compares by value.
     */
    public record FlowEvent(long ktimeNs, long cgroupId, int saddr, int daddr, int sport, int dport, int origDaddr,
                            int origDport, int proto, int type, int verdict, int direction, int tcpFlags, int reply,
                            int reason, int ifindex, int srcIdentity, int dstIdentity, int ruleId, int length,
                            long packets, long bytes, long saddr6Hi, long saddr6Lo, long daddr6Hi, long daddr6Lo,
                            int ipVersion) {
        public static final int SIZE = 120;
        /** flow_event.ip_version: saddr/daddr hold IPv4 addresses, or 0 for a frame without any. */
        public static final int IP_V4_OR_NONE = dev.sluice.datapath.abi.FlowIpVersion.V4_OR_NONE.value();
        /** flow_event.ip_version: the IPv6 fields hold the addresses. */
        public static final int IP_V6 = dev.sluice.datapath.abi.FlowIpVersion.V6.value();

        public static final StructLayout LAYOUT = StructLayout.of("flow_event", SIZE).field("ktime_ns", 0, 8)
                .field("cgroup_id", 8, 8).field("saddr", 16, 4).field("daddr", 20, 4).field("sport", 24, 2)
                .field("dport", 26, 2).field("orig_daddr", 28, 4).field("orig_dport", 32, 2).field("proto", 34, 1)
                .field("type", 35, 1).field("verdict", 36, 1).field("direction", 37, 1).field("tcp_flags", 38, 1)
                .field("reply", 39, 1).field("reason", 40, 4).field("ifindex", 44, 4).field("src_identity", 48, 4)
                .field("dst_identity", 52, 4).field("rule_id", 56, 4).field("len", 60, 4).field("packets", 64, 8)
                .field("bytes", 72, 8).field("saddr6", 80, 16).field("daddr6", 96, 16).field("ip_version", 112, 1)
                .reserved("pad", 113, 7);

        public static final Codec<FlowEvent> CODEC = Codec.of(LAYOUT, FlowEvent::decode, FlowEvent::encode);

        /** An IPv4 event (or one without addresses), as every event but an IPv6 drop is. */
        public FlowEvent(long ktimeNs, long cgroupId, int saddr, int daddr, int sport, int dport, int origDaddr,
                         int origDport, int proto, int type, int verdict, int direction, int tcpFlags, int reply,
                         int reason, int ifindex, int srcIdentity, int dstIdentity, int ruleId, int length,
                         long packets, long bytes) {
            this(ktimeNs, cgroupId, saddr, daddr, sport, dport, origDaddr, origDport, proto, type, verdict, direction, tcpFlags,
                    reply, reason, ifindex, srcIdentity, dstIdentity, ruleId, length, packets, bytes, 0, 0, 0, 0, IP_V4_OR_NONE);
        }

        /** Decodes one ring-buffer record (at least {@link #SIZE} bytes). */
        public static FlowEvent decode(MemorySegment s) {
            return new FlowEvent(s.get(U64, 0), s.get(U64, 8), be32(s, 16), be32(s, 20), be16(s, 24), be16(s, 26),
                    be32(s, 28), be16(s, 32), u8(s, 34), u8(s, 35), u8(s, 36), u8(s, 37), u8(s, 38), u8(s, 39),
                    s.get(U32, 40), s.get(U32, 44), s.get(U32, 48), s.get(U32, 52), s.get(U32, 56), s.get(U32, 60),
                    s.get(U64, 64), s.get(U64, 72), s.get(BE64, 80), s.get(BE64, 88), s.get(BE64, 96), s.get(BE64, 104),
                    u8(s, 112));
        }

        private static void encode(FlowEvent v, MemorySegment s) {
            s.set(U64, 0, v.ktimeNs);
            s.set(U64, 8, v.cgroupId);
            s.set(BE32, 16, v.saddr);
            s.set(BE32, 20, v.daddr);
            s.set(BE16, 24, (short) v.sport);
            s.set(BE16, 26, (short) v.dport);
            s.set(BE32, 28, v.origDaddr);
            s.set(BE16, 32, (short) v.origDport);
            s.set(U8, 34, (byte) v.proto);
            s.set(U8, 35, (byte) v.type);
            s.set(U8, 36, (byte) v.verdict);
            s.set(U8, 37, (byte) v.direction);
            s.set(U8, 38, (byte) v.tcpFlags);
            s.set(U8, 39, (byte) v.reply);
            s.set(U32, 40, v.reason);
            s.set(U32, 44, v.ifindex);
            s.set(U32, 48, v.srcIdentity);
            s.set(U32, 52, v.dstIdentity);
            s.set(U32, 56, v.ruleId);
            s.set(U32, 60, v.length);
            s.set(U64, 64, v.packets);
            s.set(U64, 72, v.bytes);
            s.set(BE64, 80, v.saddr6Hi);
            s.set(BE64, 88, v.saddr6Lo);
            s.set(BE64, 96, v.daddr6Hi);
            s.set(BE64, 104, v.daddr6Lo);
            s.set(U8, 112, (byte) v.ipVersion);
            for (int i = 113; i < SIZE; i++) {
                s.set(U8, i, (byte) 0);
            }
        }

        public boolean isIpv6() {
            return ipVersion == IP_V6;
        }

        /** The IPv6 source's 16 bytes (zeros unless {@link #isIpv6}). */
        public byte[] saddr6() {
            return ipv6(saddr6Hi, saddr6Lo);
        }

        /** The IPv6 destination's 16 bytes (zeros unless {@link #isIpv6}). */
        public byte[] daddr6() {
            return ipv6(daddr6Hi, daddr6Lo);
        }

        private static byte[] ipv6(long hi, long lo) {
            return java.nio.ByteBuffer.allocate(16).putLong(hi).putLong(lo).array();
        }
    }

    private static final java.lang.foreign.ValueLayout.OfLong BE64 =
            java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final java.lang.foreign.ValueLayout.OfInt BE32 =
            java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final java.lang.foreign.ValueLayout.OfShort BE16 = dev.sluice.libbpf.Codecs.BE16;

    private static int be32(MemorySegment s, long offset) {
        return s.get(BE32, offset);
    }

    private static int be16(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(BE16, offset));
    }

    private static int u8(MemorySegment s, long offset) {
        return Byte.toUnsignedInt(s.get(U8, offset));
    }

    /** An address as the dotted quad, without an InetAddress. */
    public static String ipv4(int address) {
        return (address >>> 24) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "." + (address & 0xff);
    }

    /** The int form of an address, as the events carry it. */
    public static int ipv4(java.net.Inet4Address address) {
        byte[] b = address.getAddress();
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }
}
