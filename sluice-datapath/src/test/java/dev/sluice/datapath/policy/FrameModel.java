package dev.sluice.datapath.policy;

/**
 * What the pod-veth programs make of a frame, written from what docs/datapath.md and bpf/include/parse.h say
 * they do, not from their code: the Java mirror {@link PacketFuzzTest} judges them by. Addresses are IPv4
 * addresses as big-endian ints, ports and protocols plain ints.
 *
 * <p>The rules: a frame is IPv4 by its EtherType. Its header is malformed when it is shorter than 20 bytes,
 * its version is not 4, its IHL is below 5 words, or its total length is shorter than the header or longer
 * than the frame (what follows the total length is link-layer padding, never read). A later fragment
 * (offset &gt; 0) has no L4 header: it takes its first fragment's ports (frag4_policy), and is malformed when
 * it is TCP at offset 1 (RFC 1858). A whole datagram, or a first fragment, must hold its protocol's minimal
 * L4 header within the total length: TCP 20 bytes and its data offset (at least 5 words, within the
 * datagram), UDP 8, SCTP 12, ICMP 8; any other protocol needs none. ICMP's tuple ports are the echo
 * identifier (request: source port, reply: destination port) and its policy port the type; an ICMP error
 * (3, 11, 12) that is not a fragment quotes a packet (IP header and 8 bytes, within the datagram) whose
 * TCP/UDP/SCTP ports or echo identifier make a tuple of its own.
 */
final class FrameModel {
    static final int ETH = 14;
    static final int ETH_P_IP = 0x0800;
    static final int ETH_P_ARP = 0x0806;
    static final int ETH_P_IPV6 = 0x86DD;
    static final int TCP = 6;
    static final int UDP = 17;
    static final int SCTP = 132;
    static final int ICMP = 1;

    enum Kind { NOT_IPV4, INVALID, LATER_FRAGMENT, OK }

    /** A tuple as the datapath keys it (no direction). */
    record Tuple(int saddr, int daddr, int sport, int dport, int proto) {
        Tuple reversed() {
            return new Tuple(daddr, saddr, dport, sport, proto);
        }
    }

    /**
     * @param tuple valid when {@code ipOk}; its ports only for OK (a later fragment's come from frag4_policy)
     * @param firstFragment an OK first fragment (its ports are left for its later fragments)
     * @param inner the tuple an ICMP error quotes, or null
     * @param lbTranslatable what the per-packet LB may translate as a flow: a well-formed TCP or UDP datagram, or
     *                       first fragment, with its minimal header ({@code l4Off} is where that starts); a later
     *                       fragment follows its first fragment's translation (frag4_lb)
     */
    record Parsed(Kind kind, int etherType, boolean ipOk, Tuple tuple, int policyPort, int tcpFlags, int ipId,
                  boolean firstFragment, Tuple inner, boolean lbTranslatable, int l4Off) {
    }

    private FrameModel() {
    }

    static int u8(byte[] f, int i) {
        return f[i] & 0xff;
    }

    static int u16(byte[] f, int i) {
        return (u8(f, i) << 8) | u8(f, i + 1);
    }

    static int u32(byte[] f, int i) {
        return (u16(f, i) << 16) | u16(f, i + 2);
    }

    static int l4MinLength(int proto) {
        return switch (proto) {
            case TCP -> 20;
            case UDP, ICMP -> 8;
            case SCTP -> 12;
            default -> 0;
        };
    }

    static boolean icmpError(int type) {
        return type == 3 || type == 11 || type == 12;
    }

    /** The source address a frame leaving a pod is verified by, wherever its header is broken; null when there is none. */
    static Integer claimedSource(byte[] f) {
        if (u16(f, 12) != ETH_P_IP || f.length < ETH + 16) {
            return null;
        }
        return u32(f, ETH + 12);
    }

    static Parsed parse(byte[] f) {
        int etherType = u16(f, 12);
        if (etherType != ETH_P_IP) {
            return new Parsed(Kind.NOT_IPV4, etherType, false, null, 0, 0, 0, false, null, false, 0);
        }
        if (f.length < ETH + 20) {
            return invalid(etherType, null, 0);
        }
        int version = u8(f, ETH) >> 4;
        int ihl = u8(f, ETH) & 0xf;
        if (version != 4 || ihl < 5) {
            return invalid(etherType, null, 0);
        }
        int totLen = u16(f, ETH + 2);
        if (totLen < ihl * 4 || totLen > f.length - ETH) {
            return invalid(etherType, null, 0);
        }
        int l4 = ETH + ihl * 4;
        int end = ETH + totLen;
        int id = u16(f, ETH + 4);
        int fragOff = u16(f, ETH + 6);
        int proto = u8(f, ETH + 9);
        int saddr = u32(f, ETH + 12);
        int daddr = u32(f, ETH + 16);
        Tuple addresses = new Tuple(saddr, daddr, 0, 0, proto);
        boolean fragment = (fragOff & 0x3fff) != 0;
        int offset = fragOff & 0x1fff;
        if (offset != 0) {
            if (proto == TCP && offset == 1) {
                return invalid(etherType, addresses, id);
            }
            return new Parsed(Kind.LATER_FRAGMENT, etherType, true, addresses, 0, 0, id, false, null, false, l4);
        }
        if (l4 + l4MinLength(proto) > end) {
            return invalid(etherType, addresses, id);
        }
        boolean lb = proto == TCP || proto == UDP; // a whole datagram or a first fragment
        int sport = 0;
        int dport = 0;
        int policyPort = 0;
        int flags = 0;
        Tuple inner = null;
        switch (proto) {
            case TCP -> {
                int doff = (u8(f, l4 + 12) >> 4) * 4;
                if (doff < 20 || l4 + doff > end) {
                    // Malformed for policy; the LB, which reads no more than the ports and checksum, still translates it.
                    return new Parsed(Kind.INVALID, etherType, true, new Tuple(saddr, daddr, u16(f, l4), u16(f, l4 + 2), proto), 0, 0,
                            id, false, null, lb, l4);
                }
                sport = u16(f, l4);
                dport = u16(f, l4 + 2);
                policyPort = dport;
                flags = u8(f, l4 + 13);
            }
            case UDP, SCTP -> {
                sport = u16(f, l4);
                dport = u16(f, l4 + 2);
                policyPort = dport;
            }
            case ICMP -> {
                int type = u8(f, l4);
                int echoId = u16(f, l4 + 4);
                sport = type == 8 ? echoId : 0;
                dport = type == 0 ? echoId : 0;
                policyPort = type;
                if (icmpError(type) && !fragment) {
                    inner = quoted(f, l4 + 8, end);
                }
            }
            default -> {
            }
        }
        return new Parsed(Kind.OK, etherType, true, new Tuple(saddr, daddr, sport, dport, proto), policyPort, flags, id, fragment,
                inner, lb, l4);
    }

    private static Parsed invalid(int etherType, Tuple addresses, int id) {
        return new Parsed(Kind.INVALID, etherType, addresses != null, addresses, 0, 0, id, false, null, false, 0);
    }

    /** The packet an ICMP error quotes at {@code off}: its header must be there (20 bytes of frame), and 8 bytes of L4 within the datagram. */
    private static Tuple quoted(byte[] f, int off, int end) {
        if (off + 20 > f.length) {
            return null;
        }
        int version = u8(f, off) >> 4;
        int ihl = u8(f, off) & 0xf;
        if (version != 4 || ihl < 5 || off + ihl * 4 + 8 > end) {
            return null;
        }
        int proto = u8(f, off + 9);
        int saddr = u32(f, off + 12);
        int daddr = u32(f, off + 16);
        int l4 = off + ihl * 4;
        if (proto == TCP || proto == UDP || proto == SCTP) {
            return new Tuple(saddr, daddr, u16(f, l4), u16(f, l4 + 2), proto);
        }
        if (proto == ICMP && (u8(f, l4) == 0 || u8(f, l4) == 8)) {
            int type = u8(f, l4);
            int echoId = u16(f, l4 + 4);
            return new Tuple(saddr, daddr, type == 8 ? echoId : 0, type == 0 ? echoId : 0, proto);
        }
        return null;
    }

    /** The IPv4 header checksum of a frame is right (the header's IHL words, within the frame). */
    static boolean ipChecksumOk(byte[] f) {
        int ihl = u8(f, ETH) & 0xf;
        if (ETH + ihl * 4 > f.length || ihl < 5) {
            return false;
        }
        return checksum(f, ETH, ihl * 4, 0) == 0;
    }

    /**
     * Where a whole (unfragmented) well-formed TCP or UDP datagram's L4 checksum is, or -1: a fragment's covers
     * the whole datagram, and a UDP checksum of 0 means none.
     */
    static int l4ChecksumOffset(byte[] f) {
        Parsed p = parse(f);
        if (p.kind() != Kind.OK || p.firstFragment() || (u16(f, ETH + 6) & 0x3fff) != 0) {
            return -1;
        }
        int proto = p.tuple().proto();
        int at = proto == TCP ? p.l4Off() + 16 : proto == UDP ? p.l4Off() + 6 : -1;
        return at < 0 || proto == UDP && u16(f, at) == 0 ? -1 : at;
    }

    /** The TCP/UDP checksum over the pseudo-header and the datagram's L4 bytes (0 when the checksum field is right). */
    static int l4Checksum(byte[] f) {
        int ihl = u8(f, ETH) & 0xf;
        int l4 = ETH + ihl * 4;
        int length = u16(f, ETH + 2) - ihl * 4;
        long pseudo = u16(f, ETH + 12) + u16(f, ETH + 14) + u16(f, ETH + 16) + u16(f, ETH + 18) + u8(f, ETH + 9) + length;
        return checksum(f, l4, length, pseudo);
    }

    static int checksum(byte[] f, int offset, int length, long initial) {
        long sum = initial;
        for (int i = offset; i < offset + length; i += 2) {
            sum += (u8(f, i) << 8) | (i + 1 < offset + length ? u8(f, i + 1) : 0);
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) (~sum & 0xffff);
    }
}
