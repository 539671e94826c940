package dev.sluice.bench.packet;

import java.net.Inet4Address;
import java.nio.ByteBuffer;

/** Ethernet/IPv4/TCP frames for BPF_PROG_TEST_RUN: never sent anywhere, only handed to a program in the kernel. */
final class TcpFrames {
    static final int SYN = 0x02;
    static final int ACK = 0x10;
    static final int PSH = 0x08;

    private static final int ETH = 14;
    private static final int IPV4 = 20;
    private static final int TCP = 20;

    private TcpFrames() {
    }

    /** A frame with both checksums filled (no IP or TCP options), {@code payload} zero bytes after the header. */
    static byte[] tcp(Inet4Address source, int sourcePort, Inet4Address destination, int destinationPort, int flags, int payload) {
        int ipLength = IPV4 + TCP + payload;
        ByteBuffer b = ByteBuffer.allocate(ETH + ipLength);
        b.put(new byte[] {2, 0, 0, 0, 0, 2}).put(new byte[] {2, 0, 0, 0, 0, 1}).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) ipLength).putShort((short) 0).putShort((short) 0x4000) // DF
                .put((byte) 64).put((byte) 6).putShort((short) 0)
                .put(source.getAddress()).put(destination.getAddress());
        b.putShort(ETH + 10, checksum(b.array(), ETH, IPV4, 0));
        b.putShort((short) sourcePort).putShort((short) destinationPort)
                .putInt(1_000_000).putInt((flags & ACK) != 0 ? 2_000_000 : 0)
                .put((byte) (5 << 4)).put((byte) flags).putShort((short) 64_240).putShort((short) 0).putShort((short) 0);
        int l4 = ETH + IPV4;
        // Pseudo-header: source, destination, zero, protocol, TCP length.
        long pseudo = sum(b.array(), ETH + 12, 8) + 6 + TCP + payload;
        b.putShort(l4 + 16, checksum(b.array(), l4, TCP + payload, pseudo));
        return b.array();
    }

    private static long sum(byte[] data, int offset, int length) {
        long sum = 0;
        for (int i = offset; i < offset + length; i += 2) {
            sum += ((data[i] & 0xff) << 8) | (i + 1 < offset + length ? data[i + 1] & 0xff : 0);
        }
        return sum;
    }

    private static short checksum(byte[] data, int offset, int length, long initial) {
        long sum = initial + sum(data, offset, length);
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (short) ~sum;
    }
}
