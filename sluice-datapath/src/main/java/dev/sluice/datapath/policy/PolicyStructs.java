package dev.sluice.datapath.policy;

import dev.sluice.datapath.abi.CtFlag;
import dev.sluice.datapath.abi.Direction;
import dev.sluice.datapath.abi.EndpointFlag;
import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.StructLayout;
import dev.sluice.libbpf.Codecs;

import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.util.List;

import static dev.sluice.libbpf.Codecs.BE16;
import static dev.sluice.libbpf.Codecs.U16;
import static dev.sluice.libbpf.Codecs.U32;
import static dev.sluice.libbpf.Codecs.U64;
import static dev.sluice.libbpf.Codecs.U8;

/**
 * Java mirrors of bpf/include/policy.h: one record and one codec per struct, with the same field order,
 * and the maps of bpf/include/policy_maps.h by name. Ports are plain ints (0..65535) here and network
 * order in the maps (for ICMP, a policy key's port is the ICMP type). Protocols, directions, drop reasons and
 * flags are ints as on the wire, the values of the enums in {@code dev.sluice.datapath.abi}; identities and rule
 * ids are unsigned 32-bit values held in ints.
 */
public final class PolicyStructs {
    public static final long CT_LIFETIME_TCP_NS = 21_600L * 1_000_000_000L;
    public static final long CT_LIFETIME_SYN_NS = 60L * 1_000_000_000L;
    public static final long CT_LIFETIME_CLOSE_NS = 10L * 1_000_000_000L;
    public static final long CT_LIFETIME_NONTCP_NS = 60L * 1_000_000_000L;

    /** Map names in the pod_policy object (bpf/include/policy_maps.h). */
    public static final String MAP_IPCACHE = "ipcache";
    public static final String MAP_ENDPOINTS = "endpoints";
    public static final String MAP_POLICY = "policy_entries";
    /** Established flows (policy_maps.h); new ones are in {@link #MAP_CT_NEW} until they are. */
    public static final String MAP_CT = "ct4_policy";
    /** Flows not yet established: a flood of new flows churns this LRU only. */
    public static final String MAP_CT_NEW = "ct4_policy_new";
    /** LRU_PERCPU_HASH: read with {@code typedPerCpu} and add the CPUs up ({@link DropValue#sum}). */
    public static final String MAP_DROPS = "policy_drops";
    /** LRU: the L4 ports of datagrams seen fragmented, for their later fragments. */
    public static final String MAP_FRAG = "frag4_policy";
    /** ARRAY by endpoint id: each endpoint's bound on {@link #MAP_CT} ({@link Ct4Quota}). */
    public static final String MAP_CT_QUOTA = "ct4_quota";
    /** ARRAY by endpoint id: each endpoint's policy revision ({@link PolicyRevision}). */
    public static final String MAP_POLICY_REVISIONS = "policy_revisions";

    private PolicyStructs() {
    }

    static int getPort(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(BE16, offset));
    }

    static void putPort(MemorySegment s, long offset, int port) {
        s.set(BE16, offset, (short) port);
    }

    /** Six bytes in wire order (the first octet first) as a 48-bit number. */
    static long getMac(MemorySegment s, long offset) {
        long mac = 0;
        for (int i = 0; i < 6; i++) {
            mac = mac << 8 | Byte.toUnsignedInt(s.get(U8, offset + i));
        }
        return mac;
    }

    static void putMac(MemorySegment s, long offset, long mac) {
        for (int i = 0; i < 6; i++) {
            s.set(U8, offset + i, (byte) (mac >>> (40 - 8 * i)));
        }
    }

    static int u8(MemorySegment s, long offset) {
        return Byte.toUnsignedInt(s.get(U8, offset));
    }

    static int u16(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(U16, offset));
    }

    /** struct ipcache_key: an LPM trie key, a prefix of {@code prefixLength} bits of {@code address}. */
    public record IpcacheKey(int prefixLength, Inet4Address address) {
        public static final StructLayout LAYOUT = StructLayout.of("ipcache_key", 8).field("prefixlen", 0, 4)
                .field("address", 4, 4);

        public static final Codec<IpcacheKey> CODEC = Codec.of(LAYOUT,
                s -> new IpcacheKey(s.get(U32, 0), Codecs.ipv4(s, 4)),
                (k, s) -> {
                    s.set(U32, 0, k.prefixLength());
                    Codecs.putIpv4(s, 4, k.address());
                });

        public IpcacheKey {
            if (prefixLength < 0 || prefixLength > 32) {
                throw new IllegalArgumentException("IPv4 prefix length must be 0..32, got " + prefixLength);
            }
        }

        /** One address (a pod's /32). */
        public static IpcacheKey host(Inet4Address address) {
            return new IpcacheKey(32, address);
        }
    }

    /** struct ipcache_value. */
    public record IpcacheValue(int identity, int flags) {
        public static final StructLayout LAYOUT = StructLayout.of("ipcache_value", 8).field("identity", 0, 4)
                .field("flags", 4, 4);

        public static final Codec<IpcacheValue> CODEC = Codec.of(LAYOUT,
                s -> new IpcacheValue(s.get(U32, 0), s.get(U32, 4)),
                (v, s) -> {
                    s.set(U32, 0, v.identity());
                    s.set(U32, 4, v.flags());
                });

        public IpcacheValue(int identity) {
            this(identity, 0);
        }
    }

    /**
     * struct endpoint_info, keyed by the ifindex of the pod's host-side veth (a {@code u32}). {@code mac} is the pod's
     * MAC as a 48-bit number ({@code 0x0a58c0a80001} for {@code 0a:58:c0:a8:00:01}), 0 when unknown (not checked).
     */
    public record EndpointInfo(int identity, int endpointId, boolean enforceIngress, boolean enforceEgress,
                               int defaultDenyIngressRule, int defaultDenyEgressRule, Inet4Address address, int flags,
                               long mac) {
        public static final StructLayout LAYOUT = StructLayout.of("endpoint_info", 32).field("identity", 0, 4)
                .field("endpoint_id", 4, 2).field("enforce_ingress", 6, 1).field("enforce_egress", 7, 1)
                .field("default_deny_ingress_rule", 8, 4).field("default_deny_egress_rule", 12, 4).field("address", 16, 4)
                .field("flags", 20, 4).field("mac", 24, 6).reserved("pad", 30, 2);

        public static final Codec<EndpointInfo> CODEC = Codec.of(LAYOUT,
                s -> new EndpointInfo(s.get(U32, 0), u16(s, 4), u8(s, 6) != 0, u8(s, 7) != 0, s.get(U32, 8),
                        s.get(U32, 12), Codecs.ipv4(s, 16), s.get(U32, 20), getMac(s, 24)),
                (v, s) -> {
                    s.set(U32, 0, v.identity());
                    s.set(U16, 4, (short) v.endpointId());
                    s.set(U8, 6, (byte) (v.enforceIngress() ? 1 : 0));
                    s.set(U8, 7, (byte) (v.enforceEgress() ? 1 : 0));
                    s.set(U32, 8, v.defaultDenyIngressRule());
                    s.set(U32, 12, v.defaultDenyEgressRule());
                    Codecs.putIpv4(s, 16, v.address());
                    s.set(U32, 20, v.flags());
                    putMac(s, 24, v.mac());
                });

        public EndpointInfo {
            if ((mac & ~0xFFFF_FFFF_FFFFL) != 0) {
                throw new IllegalArgumentException("a MAC is 48 bits, got 0x" + Long.toHexString(mac));
            }
        }

        /** An endpoint whose MAC is not known: its frames' source MAC is not checked. */
        public EndpointInfo(int identity, int endpointId, boolean enforceIngress, boolean enforceEgress,
                            int defaultDenyIngressRule, int defaultDenyEgressRule, Inet4Address address, int flags) {
            this(identity, endpointId, enforceIngress, enforceEgress, defaultDenyIngressRule, defaultDenyEgressRule, address,
                    flags, 0);
        }

        /**
         * {@code aa:bb:cc:dd:ee:ff} (case-insensitive) as the 48-bit number {@link #mac} holds; "" or null is 0
         * (unknown).
         *
         * @throws IllegalArgumentException naming the text when it is not six hex octets
         */
        public static long parseMac(String text) {
            if (text == null || text.isEmpty()) {
                return 0;
            }
            String[] octets = text.split(":");
            if (octets.length != 6) {
                throw new IllegalArgumentException("not a MAC address (six hex octets, aa:bb:cc:dd:ee:ff): '" + text + "'");
            }
            long mac = 0;
            for (String o : octets) {
                if (o.length() != 2) {
                    throw new IllegalArgumentException("not a MAC address (six hex octets, aa:bb:cc:dd:ee:ff): '" + text + "'");
                }
                try {
                    mac = mac << 8 | Integer.parseInt(o, 16);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("not a MAC address (six hex octets, aa:bb:cc:dd:ee:ff): '" + text + "'");
                }
            }
            return mac;
        }

        /** {@code mac} as {@code aa:bb:cc:dd:ee:ff}. */
        public static String formatMac(long mac) {
            StringBuilder b = new StringBuilder(17);
            for (int shift = 40; shift >= 0; shift -= 8) {
                if (shift != 40) {
                    b.append(':');
                }
                b.append(String.format("%02x", (mac >>> shift) & 0xFF));
            }
            return b.toString();
        }

        public boolean enforces(Direction direction) {
            return direction == Direction.INGRESS ? enforceIngress : enforceEgress;
        }

        public int defaultDenyRule(Direction direction) {
            return direction == Direction.INGRESS ? defaultDenyIngressRule : defaultDenyEgressRule;
        }

        public boolean failClosed() {
            return EndpointFlag.FAIL_CLOSED.isSetIn(flags);
        }
    }

    /**
     * struct policy_key. 0 in remoteIdentity, proto or port is a wildcard; proto 0 only together with port
     * 0 (the datapath never looks up {proto 0, port N}).
     */
    public record PolicyKey(int remoteIdentity, int endpointId, int direction, int proto, int port) {
        public static final StructLayout LAYOUT = StructLayout.of("policy_key", 12).field("remote_identity", 0, 4)
                .field("endpoint_id", 4, 2).field("direction", 6, 1).field("proto", 7, 1).field("dport", 8, 2)
                .reserved("pad", 10, 2);

        public static final Codec<PolicyKey> CODEC = Codec.of(LAYOUT,
                s -> new PolicyKey(s.get(U32, 0), u16(s, 4), u8(s, 6), u8(s, 7), getPort(s, 8)),
                (k, s) -> {
                    s.set(U32, 0, k.remoteIdentity());
                    s.set(U16, 4, (short) k.endpointId());
                    s.set(U8, 6, (byte) k.direction());
                    s.set(U8, 7, (byte) k.proto());
                    putPort(s, 8, k.port());
                });
    }

    /** struct policy_entry: an allow or, with {@code deny}, a deny rule. */
    public record PolicyEntry(boolean deny, int ruleId) {
        public static final StructLayout LAYOUT = StructLayout.of("policy_entry", 8).field("deny", 0, 1)
                .reserved("pad", 1, 3).field("rule_id", 4, 4);

        public static final Codec<PolicyEntry> CODEC = Codec.of(LAYOUT,
                s -> new PolicyEntry(u8(s, 0) != 0, s.get(U32, 4)),
                (v, s) -> {
                    s.set(U8, 0, (byte) (v.deny() ? 1 : 0));
                    s.set(U32, 4, v.ruleId());
                });

        public static PolicyEntry allow(int ruleId) {
            return new PolicyEntry(false, ruleId);
        }

        public static PolicyEntry denial(int ruleId) {
            return new PolicyEntry(true, ruleId);
        }
    }

    /**
     * struct ct4_tuple: a flow as the packet that opened it went, and the direction (of the endpoint that
     * owns the entry) it was opened in. ICMP echo: request {id, 0}, reply {0, id}; other ICMP {0, 0}.
     */
    public record Ct4Tuple(Inet4Address source, Inet4Address destination, int sourcePort, int destinationPort, int proto,
                           int direction) {
        public static final StructLayout LAYOUT = StructLayout.of("ct4_tuple", 16).field("saddr", 0, 4).field("daddr", 4, 4)
                .field("sport", 8, 2).field("dport", 10, 2).field("proto", 12, 1).field("direction", 13, 1)
                .reserved("pad", 14, 2);

        public static final Codec<Ct4Tuple> CODEC = Codec.of(LAYOUT,
                s -> new Ct4Tuple(Codecs.ipv4(s, 0), Codecs.ipv4(s, 4), getPort(s, 8), getPort(s, 10), u8(s, 12), u8(s, 13)),
                (k, s) -> {
                    Codecs.putIpv4(s, 0, k.source());
                    Codecs.putIpv4(s, 4, k.destination());
                    putPort(s, 8, k.sourcePort());
                    putPort(s, 10, k.destinationPort());
                    s.set(U8, 12, (byte) k.proto());
                    s.set(U8, 13, (byte) k.direction());
                });

        /** The reply's tuple, keyed as the other side's entry would be (direction flipped). */
        public Ct4Tuple reversed() {
            int other = direction == Direction.INGRESS.value() ? Direction.EGRESS.value() : Direction.INGRESS.value();
            return new Ct4Tuple(destination, source, destinationPort, sourcePort, proto, other);
        }
    }

    /**
     * struct ct4_entry. {@code lifetimeNs} is on the kernel's monotonic clock (bpf_ktime_get_ns); {@code policyRevision}
     * is its endpoint's {@link PolicyRevision} when its policy last admitted the flow.
     */
    public record Ct4Entry(long lifetimeNs, long rxPackets, long rxBytes, long txPackets, long txBytes, int srcIdentity,
                           int flags, int direction, int ruleId, int endpointId, int policyRevision) {
        public static final StructLayout LAYOUT = StructLayout.of("ct4_entry", 64).field("lifetime_ns", 0, 8)
                .field("rx_packets", 8, 8).field("rx_bytes", 16, 8).field("tx_packets", 24, 8).field("tx_bytes", 32, 8)
                .field("src_identity", 40, 4).field("flags", 44, 2).field("direction", 46, 1).reserved("pad", 47, 1)
                .field("rule_id", 48, 4).field("endpoint_id", 52, 2).reserved("pad2", 54, 2)
                .field("policy_revision", 56, 4).reserved("pad3", 60, 4);

        public static final Codec<Ct4Entry> CODEC = Codec.of(LAYOUT,
                s -> new Ct4Entry(s.get(U64, 0), s.get(U64, 8), s.get(U64, 16), s.get(U64, 24), s.get(U64, 32),
                        s.get(U32, 40), u16(s, 44), u8(s, 46), s.get(U32, 48), u16(s, 52), s.get(U32, 56)),
                (v, s) -> {
                    s.set(U64, 0, v.lifetimeNs());
                    s.set(U64, 8, v.rxPackets());
                    s.set(U64, 16, v.rxBytes());
                    s.set(U64, 24, v.txPackets());
                    s.set(U64, 32, v.txBytes());
                    s.set(U32, 40, v.srcIdentity());
                    s.set(U16, 44, (short) v.flags());
                    s.set(U8, 46, (byte) v.direction());
                    s.set(U32, 48, v.ruleId());
                    s.set(U16, 52, (short) v.endpointId());
                    s.set(U32, 56, v.policyRevision());
                });

        /** An entry admitted under no revision (0: never re-checked). */
        public Ct4Entry(long lifetimeNs, long rxPackets, long rxBytes, long txPackets, long txBytes, int srcIdentity,
                        int flags, int direction, int ruleId, int endpointId) {
            this(lifetimeNs, rxPackets, rxBytes, txPackets, txBytes, srcIdentity, flags, direction, ruleId, endpointId, 0);
        }

        /** An entry of no endpoint's quota (endpoint id 0). */
        public Ct4Entry(long lifetimeNs, long rxPackets, long rxBytes, long txPackets, long txBytes, int srcIdentity,
                        int flags, int direction, int ruleId) {
            this(lifetimeNs, rxPackets, rxBytes, txPackets, txBytes, srcIdentity, flags, direction, ruleId, 0);
        }

        /** Whether every one of {@code flags} is set. */
        public boolean has(CtFlag... flags) {
            return (this.flags & CtFlag.mask(flags)) == CtFlag.mask(flags);
        }
    }

    /**
     * struct policy_revision, indexed by endpoint id (a {@code u32} key of an ARRAY, {@link #MAP_POLICY_REVISIONS}): the
     * revision of what the endpoint's verdicts depend on, bumped by the agent after each change of it, and the ifindex
     * under which the endpoint is in {@link #MAP_ENDPOINTS} (for the socket bypass). A CT entry admitted under another
     * revision is decided again by its next forward packet (bpf/pod_policy.bpf.c, "Why the re-check").
     */
    public record PolicyRevision(int revision, int ifindex) {
        public static final StructLayout LAYOUT = StructLayout.of("policy_revision", 8).field("revision", 0, 4)
                .field("ifindex", 4, 4);

        public static final Codec<PolicyRevision> CODEC = Codec.of(LAYOUT,
                s -> new PolicyRevision(s.get(U32, 0), s.get(U32, 4)),
                (v, s) -> {
                    s.set(U32, 0, v.revision());
                    s.set(U32, 4, v.ifindex());
                });
    }

    /** The bound one endpoint's flows have in {@link #MAP_CT} unless the agent sets another (CT4_ENDPOINT_QUOTA). */
    public static final int CT4_ENDPOINT_QUOTA = 262_144 / 4;

    /**
     * struct ct4_quota, indexed by endpoint id (a {@code u32} key of an ARRAY): how many {@link #MAP_CT} entries the
     * endpoint's flows hold (counted up by the datapath, recounted by the agent), its limit (0: {@link #CT4_ENDPOINT_QUOTA})
     * and how many of its flows became established while it was at the limit (kept in {@link #MAP_CT_NEW}).
     */
    public record Ct4Quota(int established, int limit, long refused) {
        public static final StructLayout LAYOUT = StructLayout.of("ct4_quota", 16).field("established", 0, 4)
                .field("limit", 4, 4).field("refused", 8, 8);

        public static final Codec<Ct4Quota> CODEC = Codec.of(LAYOUT,
                s -> new Ct4Quota(s.get(U32, 0), s.get(U32, 4), s.get(U64, 8)),
                (v, s) -> {
                    s.set(U32, 0, v.established());
                    s.set(U32, 4, v.limit());
                    s.set(U64, 8, v.refused());
                });

        /** The limit in force: {@link #limit}, or the datapath's default when it is 0. */
        public int effectiveLimit() {
            return limit == 0 ? CT4_ENDPOINT_QUOTA : limit;
        }
    }

    /** struct drop_key: a drop counter per endpoint, direction, reason, rule and remote identity. */
    public record DropKey(int endpointId, int direction, int reason, int ruleId, int remoteIdentity) {
        public static final StructLayout LAYOUT = StructLayout.of("drop_key", 16).field("endpoint_id", 0, 2)
                .field("direction", 2, 1).reserved("pad", 3, 1).field("reason", 4, 4).field("rule_id", 8, 4)
                .field("remote_identity", 12, 4);

        public static final Codec<DropKey> CODEC = Codec.of(LAYOUT,
                s -> new DropKey(u16(s, 0), u8(s, 2), s.get(U32, 4), s.get(U32, 8), s.get(U32, 12)),
                (k, s) -> {
                    s.set(U16, 0, (short) k.endpointId());
                    s.set(U8, 2, (byte) k.direction());
                    s.set(U32, 4, k.reason());
                    s.set(U32, 8, k.ruleId());
                    s.set(U32, 12, k.remoteIdentity());
                });
    }

    /** struct drop_value (one per CPU in policy_drops). */
    public record DropValue(long packets, long bytes) {
        public static final StructLayout LAYOUT = StructLayout.of("drop_value", 16).field("packets", 0, 8)
                .field("bytes", 8, 8);

        public static final Codec<DropValue> CODEC = Codec.of(LAYOUT,
                s -> new DropValue(s.get(U64, 0), s.get(U64, 8)),
                (v, s) -> {
                    s.set(U64, 0, v.packets());
                    s.set(U64, 8, v.bytes());
                });

        public static final DropValue ZERO = new DropValue(0, 0);

        /** The per-CPU values of one counter, added up. */
        public static DropValue sum(List<DropValue> perCpu) {
            long packets = 0;
            long bytes = 0;
            for (DropValue v : perCpu) {
                packets += v.packets();
                bytes += v.bytes();
            }
            return new DropValue(packets, bytes);
        }
    }

    /** struct frag4_key: one fragmented datagram, by what each of its fragments carries. */
    public record Frag4Key(Inet4Address source, Inet4Address destination, int ipId, int proto) {
        public static final StructLayout LAYOUT = StructLayout.of("frag4_key", 12).field("saddr", 0, 4).field("daddr", 4, 4)
                .field("id", 8, 2).field("proto", 10, 1).reserved("pad", 11, 1);

        public static final Codec<Frag4Key> CODEC = Codec.of(LAYOUT,
                s -> new Frag4Key(Codecs.ipv4(s, 0), Codecs.ipv4(s, 4), getPort(s, 8), u8(s, 10)),
                (k, s) -> {
                    Codecs.putIpv4(s, 0, k.source());
                    Codecs.putIpv4(s, 4, k.destination());
                    putPort(s, 8, k.ipId());
                    s.set(U8, 10, (byte) k.proto());
                });
    }

    /** struct frag4_l4: what a datagram's first fragment said, for its later ones. */
    public record Frag4L4(int sourcePort, int destinationPort, int policyPort, int tcpFlags) {
        public static final StructLayout LAYOUT = StructLayout.of("frag4_l4", 8).field("sport", 0, 2).field("dport", 2, 2)
                .field("policy_port", 4, 2).field("tcp_flags", 6, 1).reserved("pad", 7, 1);

        public static final Codec<Frag4L4> CODEC = Codec.of(LAYOUT,
                s -> new Frag4L4(getPort(s, 0), getPort(s, 2), getPort(s, 4), u8(s, 6)),
                (v, s) -> {
                    putPort(s, 0, v.sourcePort());
                    putPort(s, 2, v.destinationPort());
                    putPort(s, 4, v.policyPort());
                    s.set(U8, 6, (byte) v.tcpFlags());
                });
    }
}
