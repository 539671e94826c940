package dev.sluice.policy;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;

/**
 * An IPv4 or IPv6 prefix, its host bits zero. IPv6 prefixes are kept so that policies written for dual-stack
 * clusters (a {@code ::/0} beside {@code 0.0.0.0/0}) are accepted, but the lab is IPv4-only, so they match nothing.
 */
public record Cidr(InetAddress network, int prefixLength) {
    public Cidr {
        Objects.requireNonNull(network, "network");
        int bits = network.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length must be 0.." + bits + ", got " + prefixLength);
        }
        if (!masked(network, prefixLength).equals(network)) {
            throw new IllegalArgumentException(network.getHostAddress() + "/" + prefixLength + " has host bits set");
        }
    }

    /**
     * {@code 10.0.0.0/8}, or with {@code bareAddress} also {@code 10.1.2.3} (a /32), as Cilium's {@code fromCIDR}
     * allows. Host bits are cleared: {@code 10.1.2.3/8} is {@code 10.0.0.0/8}, as Cilium reads it.
     *
     * @throws IllegalArgumentException with a message that can follow "got ..." in an error
     */
    public static Cidr parse(String text, boolean bareAddress) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            if (!bareAddress) {
                throw new IllegalArgumentException("must be a CIDR such as 10.0.0.0/8");
            }
            InetAddress address = address(text);
            return new Cidr(address, address.getAddress().length * 8);
        }
        InetAddress address = address(text.substring(0, slash));
        String length = text.substring(slash + 1);
        int bits = address.getAddress().length * 8;
        if (length.isEmpty() || length.length() > 3 || !length.chars().allMatch(c -> c >= '0' && c <= '9')
                || (length.length() > 1 && length.charAt(0) == '0') || Integer.parseInt(length) > bits) {
            throw new IllegalArgumentException("the prefix length must be a number 0.." + bits);
        }
        int prefixLength = Integer.parseInt(length);
        return new Cidr(masked(address, prefixLength), prefixLength);
    }

    /** True when {@code text} names an address inside its prefix rather than the prefix's first address. */
    static boolean hasHostBits(String text) {
        int slash = text.indexOf('/');
        return slash >= 0 && !address(text.substring(0, slash)).equals(parse(text, false).network);
    }

    /**
     * A dotted-quad IPv4 address (no leading zeros, which some tools read as octal) or an IPv6 literal; never a
     * host name, so parsing never touches DNS.
     */
    public static InetAddress address(String text) {
        if (text.indexOf(':') >= 0) {
            if (text.indexOf('%') >= 0 || text.indexOf('[') >= 0) {
                throw new IllegalArgumentException("must be an IP address without zone or brackets");
            }
            try {
                return Inet6Address.ofLiteral(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("is not an IPv6 address");
            }
        }
        String[] parts = text.split("\\.", -1);
        byte[] bytes = new byte[4];
        if (parts.length != 4) {
            throw new IllegalArgumentException("is not an IPv4 address");
        }
        for (int i = 0; i < 4; i++) {
            String part = parts[i];
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(c -> c >= '0' && c <= '9')
                    || (part.length() > 1 && part.charAt(0) == '0') || Integer.parseInt(part) > 255) {
                throw new IllegalArgumentException("is not an IPv4 address");
            }
            bytes[i] = (byte) Integer.parseInt(part);
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    public boolean isIpv4() {
        return network instanceof Inet4Address;
    }

    public boolean contains(InetAddress address) {
        return address.getClass() == network.getClass() && masked(address, prefixLength).equals(network);
    }

    /** True when every address of {@code other} is in this prefix. */
    public boolean contains(Cidr other) {
        return other.prefixLength >= prefixLength && contains(other.network);
    }

    private static InetAddress masked(InetAddress address, int prefixLength) {
        byte[] bytes = address.getAddress();
        for (int bit = prefixLength; bit < bytes.length * 8; bit++) {
            bytes[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefixLength;
    }
}
