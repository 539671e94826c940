package dev.sluice.datapath.prefilter;

import dev.sluice.libbpf.Lpm;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Comparator;

/** An IPv4 CIDR of the prefilter, its host bits cleared: {@code 203.0.113.0/24}; an address alone is a /32. */
public record Cidr(Inet4Address network, int prefixLength) implements Comparable<Cidr> {
    private static final Comparator<Cidr> ORDER = Comparator.comparingLong((Cidr c) -> Integer.toUnsignedLong(c.bits()))
            .thenComparingInt(Cidr::prefixLength);

    public Cidr {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " is not 0..32");
        }
        network = address(toBits(network) & mask(prefixLength));
    }

    /** Parses {@code a.b.c.d/n} or {@code a.b.c.d}; IPv4 only (the prefilter does not filter IPv6 yet). */
    public static Cidr parse(String text) {
        String s = text.strip();
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        int length;
        try {
            length = slash < 0 ? 32 : Integer.parseInt(s.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 CIDR (a.b.c.d/n)");
        }
        if (!addr.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 CIDR (a.b.c.d/n)");
        }
        try {
            if (!(InetAddress.getByName(addr) instanceof Inet4Address a)) {
                throw new IllegalArgumentException("'" + text + "' is not an IPv4 CIDR");
            }
            return new Cidr(a, length);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 CIDR (a.b.c.d/n)");
        }
    }

    /** The trie's key (and value) for this CIDR. */
    public Lpm<Inet4Address> key() {
        return new Lpm<>(prefixLength, network);
    }

    public static Cidr of(Lpm<Inet4Address> key) {
        return new Cidr(key.data(), key.prefixLength());
    }

    /** Whether {@code address} lies in this CIDR. */
    public boolean contains(Inet4Address address) {
        return (toBits(address) & mask(prefixLength)) == bits();
    }

    int bits() {
        return toBits(network);
    }

    @Override
    public int compareTo(Cidr o) {
        return ORDER.compare(this, o);
    }

    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefixLength;
    }

    private static int mask(int length) {
        return length == 0 ? 0 : -1 << (32 - length);
    }

    private static int toBits(Inet4Address a) {
        byte[] b = a.getAddress();
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    private static Inet4Address address(int bits) {
        try {
            return (Inet4Address) InetAddress.getByAddress(new byte[]{(byte) (bits >>> 24), (byte) (bits >>> 16), (byte) (bits >>> 8), (byte) bits});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
