package dev.sluice.datapath.flow;

import dev.sluice.libbpf.Codec;

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

    public static final int EV_POLICY_VERDICT = 1;
    public static final int EV_DROP = 2;
    public static final int EV_TRACE = 3;
    public static final int EV_CONN_END = 4;
    public static final int EV_SERVICE_XLATE = 5;

    /** Hubble's Verdict numbers. */
    public static final int VERDICT_FORWARDED = 1;
    public static final int VERDICT_DROPPED = 2;
    public static final int VERDICT_TRANSLATED = 7;

    public static final int REPLY_NO = 0;
    public static final int REPLY_YES = 1;
    public static final int REPLY_UNKNOWN = 2;

    public static final int DIR_INGRESS = 0;
    public static final int DIR_EGRESS = 1;
    public static final int DIR_UNKNOWN = 2;

    /** Cilium's drop reason for a Service without backends. */
    public static final int DROP_NO_SERVICE = 158;
    /** Cilium's drop reason for a packet leaving a pod from an address not its own (bpf/include/policy.h). */
    public static final int DROP_INVALID_SIP = 132;

    private FlowStructs() {
    }

    /** flow_config.level, after Cilium's {@code bpf.monitorAggregation} (see flow.h for what each reports). */
    public enum Aggregation {
        DISABLED, NONE, LOW, MEDIUM, MAXIMUM;

        /** The value in flow_config.level. */
        public int level() {
            return ordinal();
        }
    }

    /** struct flow_config */
    public record FlowConfig(Aggregation aggregation) {
        public static final Codec<FlowConfig> CODEC = Codec.of(8,
                s -> new FlowConfig(Aggregation.values()[Math.min(s.get(U32, 0), Aggregation.values().length - 1)]),
                (v, s) -> {
                    s.set(U32, 0, v.aggregation().level());
                    s.set(U32, 4, 0);
                });
    }

    /** struct flow_event; {@code tcpFlags} holds an ICMP message's type when {@code proto} is ICMP. */
    public record FlowEvent(long ktimeNs, long cgroupId, int saddr, int daddr, int sport, int dport, int origDaddr,
                            int origDport, int proto, int type, int verdict, int direction, int tcpFlags, int reply,
                            int reason, int ifindex, int srcIdentity, int dstIdentity, int ruleId, int length,
                            long packets, long bytes) {
        public static final int SIZE = 80;

        public static final Codec<FlowEvent> CODEC = Codec.of(SIZE, FlowEvent::decode, FlowEvent::encode);

        /** Decodes one ring-buffer record (at least {@link #SIZE} bytes). */
        public static FlowEvent decode(MemorySegment s) {
            return new FlowEvent(s.get(U64, 0), s.get(U64, 8), be32(s, 16), be32(s, 20), be16(s, 24), be16(s, 26),
                    be32(s, 28), be16(s, 32), u8(s, 34), u8(s, 35), u8(s, 36), u8(s, 37), u8(s, 38), u8(s, 39),
                    s.get(U32, 40), s.get(U32, 44), s.get(U32, 48), s.get(U32, 52), s.get(U32, 56), s.get(U32, 60),
                    s.get(U64, 64), s.get(U64, 72));
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
        }
    }

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
