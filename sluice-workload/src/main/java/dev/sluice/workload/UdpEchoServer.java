package dev.sluice.workload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Answers every UDP datagram on its ports with the pod's identity (protocol "udp"), one reply per
 * request, so that a UDP Service shows which pod answered and from which address the reply came.
 */
public final class UdpEchoServer implements AutoCloseable {
    private final List<DatagramChannel> channels = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    private UdpEchoServer() {
    }

    public static UdpEchoServer start(Identity identity, InetAddress bind, List<Integer> ports) throws IOException {
        UdpEchoServer server = new UdpEchoServer();
        EchoJson json = new EchoJson(identity);
        try {
            for (int port : ports) {
                DatagramChannel channel = DatagramChannel.open().bind(new InetSocketAddress(bind, port));
                server.channels.add(channel);
                server.threads.add(Thread.ofPlatform().daemon().name("udp-echo-" + port).start(() -> serve(channel, json)));
            }
        } catch (IOException e) {
            server.close();
            throw e;
        }
        return server;
    }

    public List<Integer> boundPorts() {
        return channels.stream().map(c -> {
            try {
                return ((InetSocketAddress) c.getLocalAddress()).getPort();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }).toList();
    }

    private static void serve(DatagramChannel channel, EchoJson json) {
        ByteBuffer in = ByteBuffer.allocate(65_536);
        while (channel.isOpen()) {
            try {
                in.clear();
                SocketAddress from = channel.receive(in);
                channel.send(ByteBuffer.wrap(json.render("udp", "DATAGRAM", "")), from);
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    @Override
    public void close() {
        for (DatagramChannel c : channels) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
