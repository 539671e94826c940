package dev.sluice.datapath.lb;

import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.StructLayout;
import dev.sluice.libbpf.Codecs;

import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;

import static dev.sluice.libbpf.Codecs.BE16;
import static dev.sluice.libbpf.Codecs.U16;
import static dev.sluice.libbpf.Codecs.U32;
import static dev.sluice.libbpf.Codecs.U64;
import static dev.sluice.libbpf.Codecs.U8;

/**
 * Java mirrors of bpf/include/lb.h: one record and one codec per struct, with the same field order.
 * Ports are plain ints (0..65535) here and network order in the maps; protocols and flags are ints as on the
 * wire, the values of {@code dev.sluice.datapath.abi.Protocol} and the flag enums there.
 */
public final class LbStructs {
    /**
     * The map_flags of every Maglev table put into lb4_maglev: the kernel only takes inner maps whose flags
     * are the template's (struct lb4_maglev_inner in lb_maps.h).
     */
    public static final int MAGLEV_INNER_MAP_FLAGS = dev.sluice.libbpf.BpfMap.F_INNER_MAP | dev.sluice.libbpf.BpfMap.F_MMAPABLE;

    private LbStructs() {
    }

    static int getPort(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(BE16, offset));
    }

    static void putPort(MemorySegment s, long offset, int port) {
        s.set(BE16, offset, (short) port);
    }

    /** struct lb4_key: a frontend (slot 0) or one of its backend slots. */
    public record Lb4Key(Inet4Address address, int port, int slot, int proto) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_key", 12).field("address", 0, 4).field("dport", 4, 2)
                .field("backend_slot", 6, 2).field("proto", 8, 1).reserved("scope", 9, 1).reserved("pad", 10, 2);

        public static final Codec<Lb4Key> CODEC = Codec.of(LAYOUT,
                s -> new Lb4Key(Codecs.ipv4(s, 0), getPort(s, 4), Short.toUnsignedInt(s.get(U16, 6)), Byte.toUnsignedInt(s.get(U8, 8))),
                (k, s) -> {
                    Codecs.putIpv4(s, 0, k.address());
                    putPort(s, 4, k.port());
                    s.set(U16, 6, (short) k.slot());
                    s.set(U8, 8, (byte) k.proto());
                });

        public Lb4Key withSlot(int slot) {
            return new Lb4Key(address, port, slot, proto);
        }
    }

    /** struct lb4_service: slot 0 holds count and flags; slots above hold a backend id. */
    public record Lb4Service(int backendId, int count, int revNatIndex, int flags, int affinityTimeoutSeconds) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_service", 16).field("backend_id", 0, 4)
                .field("count", 4, 2).field("rev_nat_index", 6, 2).field("flags", 8, 1).reserved("pad", 9, 3)
                .field("affinity_timeout", 12, 4);

        public static final Codec<Lb4Service> CODEC = Codec.of(LAYOUT,
                s -> new Lb4Service(s.get(U32, 0), Short.toUnsignedInt(s.get(U16, 4)), Short.toUnsignedInt(s.get(U16, 6)),
                        Byte.toUnsignedInt(s.get(U8, 8)), s.get(U32, 12)),
                (v, s) -> {
                    s.set(U32, 0, v.backendId());
                    s.set(U16, 4, (short) v.count());
                    s.set(U16, 6, (short) v.revNatIndex());
                    s.set(U8, 8, (byte) v.flags());
                    s.set(U32, 12, v.affinityTimeoutSeconds());
                });
    }

    /** struct lb4_backend. */
    public record Lb4Backend(Inet4Address address, int port, int proto) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_backend", 8).field("address", 0, 4)
                .field("port", 4, 2).field("proto", 6, 1).reserved("flags", 7, 1);

        public static final Codec<Lb4Backend> CODEC = Codec.of(LAYOUT,
                s -> new Lb4Backend(Codecs.ipv4(s, 0), getPort(s, 4), Byte.toUnsignedInt(s.get(U8, 6))),
                (v, s) -> {
                    Codecs.putIpv4(s, 0, v.address());
                    putPort(s, 4, v.port());
                    s.set(U8, 6, (byte) v.proto());
                });
    }

    /** struct lb4_reverse_nat: the frontend that translated traffic answers as. */
    public record Lb4ReverseNat(Inet4Address address, int port) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_reverse_nat", 8).field("address", 0, 4)
                .field("port", 4, 2).reserved("pad", 6, 2);

        public static final Codec<Lb4ReverseNat> CODEC = Codec.of(LAYOUT,
                s -> new Lb4ReverseNat(Codecs.ipv4(s, 0), getPort(s, 4)),
                (v, s) -> {
                    Codecs.putIpv4(s, 0, v.address());
                    putPort(s, 4, v.port());
                });
    }

    /** struct lb4_affinity_key. */
    public record Lb4AffinityKey(long client, int revNatIndex, boolean netnsCookie) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_affinity_key", 16).field("client", 0, 8)
                .field("rev_nat_index", 8, 2).field("netns_cookie", 10, 1).reserved("pad", 11, 5);

        public static final Codec<Lb4AffinityKey> CODEC = Codec.of(LAYOUT,
                s -> new Lb4AffinityKey(s.get(U64, 0), Short.toUnsignedInt(s.get(U16, 8)), s.get(U8, 10) == 1),
                (v, s) -> {
                    s.set(U64, 0, v.client());
                    s.set(U16, 8, (short) v.revNatIndex());
                    s.set(U8, 10, (byte) (v.netnsCookie() ? 1 : 0));
                });
    }

    /** struct lb4_affinity. */
    public record Lb4Affinity(long lastUsedNs, int backendId) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_affinity", 16).field("last_used_ns", 0, 8)
                .field("backend_id", 8, 4).reserved("pad", 12, 4);

        public static final Codec<Lb4Affinity> CODEC = Codec.of(LAYOUT,
                s -> new Lb4Affinity(s.get(U64, 0), s.get(U32, 8)),
                (v, s) -> {
                    s.set(U64, 0, v.lastUsedNs());
                    s.set(U32, 8, v.backendId());
                });
    }

    /** struct lb4_sock_key. */
    public record Lb4SockKey(long cookie, Inet4Address address, int port) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_sock_key", 16).field("cookie", 0, 8)
                .field("address", 8, 4).field("port", 12, 2).reserved("pad", 14, 2);

        public static final Codec<Lb4SockKey> CODEC = Codec.of(LAYOUT,
                s -> new Lb4SockKey(s.get(U64, 0), Codecs.ipv4(s, 8), getPort(s, 12)),
                (v, s) -> {
                    s.set(U64, 0, v.cookie());
                    Codecs.putIpv4(s, 8, v.address());
                    putPort(s, 12, v.port());
                });
    }

    /** struct lb4_sock_revnat. */
    public record Lb4SockRevNat(Inet4Address address, int port, int revNatIndex) {
        public static final StructLayout LAYOUT = StructLayout.of("lb4_sock_revnat", 8).field("address", 0, 4)
                .field("port", 4, 2).field("rev_nat_index", 6, 2);

        public static final Codec<Lb4SockRevNat> CODEC = Codec.of(LAYOUT,
                s -> new Lb4SockRevNat(Codecs.ipv4(s, 0), getPort(s, 4), Short.toUnsignedInt(s.get(U16, 6))),
                (v, s) -> {
                    Codecs.putIpv4(s, 0, v.address());
                    putPort(s, 4, v.port());
                    s.set(U16, 6, (short) v.revNatIndex());
                });
    }

    /** struct lb_config. */
    public record LbConfig(int maglevTableSize, int flags) {
        public static final StructLayout LAYOUT = StructLayout.of("lb_config", 8).field("maglev_table_size", 0, 4)
                .field("flags", 4, 4);

        public static final Codec<LbConfig> CODEC = Codec.of(LAYOUT,
                s -> new LbConfig(s.get(U32, 0), s.get(U32, 4)),
                (v, s) -> {
                    s.set(U32, 0, v.maglevTableSize());
                    s.set(U32, 4, v.flags());
                });
    }

    /** struct ct4_key: a flow as the client sent it. */
    public record Ct4Key(Inet4Address source, Inet4Address destination, int sourcePort, int destinationPort, int proto) {
        public static final StructLayout LAYOUT = StructLayout.of("ct4_key", 16).field("saddr", 0, 4).field("daddr", 4, 4)
                .field("sport", 8, 2).field("dport", 10, 2).field("proto", 12, 1).reserved("pad", 13, 3);

        public static final Codec<Ct4Key> CODEC = Codec.of(LAYOUT,
                s -> new Ct4Key(Codecs.ipv4(s, 0), Codecs.ipv4(s, 4), getPort(s, 8), getPort(s, 10), Byte.toUnsignedInt(s.get(U8, 12))),
                (v, s) -> {
                    Codecs.putIpv4(s, 0, v.source());
                    Codecs.putIpv4(s, 4, v.destination());
                    putPort(s, 8, v.sourcePort());
                    putPort(s, 10, v.destinationPort());
                    s.set(U8, 12, (byte) v.proto());
                });
    }

    /**
     * struct ct4_lb_entry. With {@link dev.sluice.datapath.abi.LbCtFlag#REPLY} in {@code flags} the entry is the reply
     * direction's, and backendAddress/backendPort hold the client (see bpf/include/lb_lib.h).
     */
    public record Ct4LbEntry(long lastSeenNs, int backendId, Inet4Address backendAddress, int backendPort, int revNatIndex,
                             Inet4Address frontendAddress, int frontendPort, int flags) {
        public static final StructLayout LAYOUT = StructLayout.of("ct4_lb_entry", 32).field("last_seen_ns", 0, 8)
                .field("backend_id", 8, 4).field("backend_address", 12, 4).field("backend_port", 16, 2)
                .field("rev_nat_index", 18, 2).field("frontend_address", 20, 4).field("frontend_port", 24, 2)
                .field("flags", 26, 1).reserved("pad", 27, 1).reserved("reserved", 28, 4);

        public static final Codec<Ct4LbEntry> CODEC = Codec.of(LAYOUT,
                s -> new Ct4LbEntry(s.get(U64, 0), s.get(U32, 8), Codecs.ipv4(s, 12), getPort(s, 16),
                        Short.toUnsignedInt(s.get(U16, 18)), Codecs.ipv4(s, 20), getPort(s, 24), Byte.toUnsignedInt(s.get(U8, 26))),
                (v, s) -> {
                    s.set(U64, 0, v.lastSeenNs());
                    s.set(U32, 8, v.backendId());
                    Codecs.putIpv4(s, 12, v.backendAddress());
                    putPort(s, 16, v.backendPort());
                    s.set(U16, 18, (short) v.revNatIndex());
                    Codecs.putIpv4(s, 20, v.frontendAddress());
                    putPort(s, 24, v.frontendPort());
                    s.set(U8, 26, (byte) v.flags());
                });
    }
}
