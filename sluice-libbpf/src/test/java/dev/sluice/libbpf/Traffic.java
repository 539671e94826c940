package dev.sluice.libbpf;

import dev.sluice.linux.NetNs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;

/** Real packets for tests: UDP datagrams sent from inside a test namespace. */
final class Traffic {
    private Traffic() {
    }

    /** Sends {@code count} UDP datagrams from namespace {@code from} to {@code address:port}. */
    static void udp(NetNs from, String address, int port, int count) {
        from.run(() -> {
            try (DatagramChannel channel = DatagramChannel.open()) {
                InetSocketAddress target = new InetSocketAddress(address, port);
                for (int i = 0; i < count; i++) {
                    channel.send(ByteBuffer.wrap(("packet " + i).getBytes()), target);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }
}
