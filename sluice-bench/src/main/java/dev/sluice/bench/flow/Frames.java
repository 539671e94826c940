package dev.sluice.bench.flow;

import java.net.Inet4Address;
import java.nio.ByteBuffer;

/** Frames for BPF_PROG_TEST_RUN: never sent anywhere, only handed to a program in the kernel. */
final class Frames {
    private static final int ETH = 14;
    private static final int IPV4 = 20;
    private static final int UDP = 8;

    private Frames() {
    }

    /** Ethernet + IPv4 (no options, checksum filled) + UDP (no checksum) + {@code payload} zero bytes. */
    static byte[] udp(Inet4Address source, int sourcePort, Inet4Address destination, int destinationPort, int payload) {
        int ipLength = IPV4 + UDP + payload;
        ByteBuffer b = ByteBuffer.allocate(ETH + ipLength);
        b.put(new byte[] {2, 0, 0, 0, 0, 2}).put(new byte[] {2, 0, 0, 0, 0, 1}).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) ipLength).putShort((short) 0).putShort((short) 0x4000) // DF
                .put((byte) 64).put((byte) 17).putShort((short) 0)
                .put(source.getAddress()).put(destination.getAddress());
        b.putShort(ETH + 10, checksum(b.array(), ETH, IPV4));
        b.putShort((short) sourcePort).putShort((short) destinationPort).putShort((short) (UDP + payload)).putShort((short) 0);
        return b.array();
    }

    private static short checksum(byte[] data, int offset, int length) {
        int sum = 0;
        for (int i = offset; i < offset + length; i += 2) {
            sum += ((data[i] & 0xff) << 8) | (data[i + 1] & 0xff);
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (short) ~sum;
    }
}
