package dev.sluice.dns;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;

/**
 * DNS over UDP and TCP on one port. UDP is answered on the receiving thread (each answer is a map lookup);
 * TCP (what a client uses after a truncated answer) takes a virtual thread per connection, several queries
 * on one connection, and closes it after 10 s idle.
 */
public final class DnsServer implements AutoCloseable {
    private static final int TCP_IDLE_MS = 10_000;

    private final Responder responder;
    private final DatagramChannel udp;
    private final ServerSocket tcp;

    public DnsServer(Responder responder, InetSocketAddress bind) throws IOException {
        this.responder = responder;
        this.udp = DatagramChannel.open().bind(bind);
        this.tcp = new ServerSocket();
        tcp.setReuseAddress(true);
        tcp.bind(bind, 128);
    }

    public int port() {
        return tcp.getLocalPort();
    }

    public void start() {
        Thread.ofPlatform().name("dns-udp").daemon().start(this::serveUdp);
        Thread.ofPlatform().name("dns-tcp").daemon().start(this::acceptTcp);
    }

    private void serveUdp() {
        ByteBuffer in = ByteBuffer.allocate(4096);
        while (udp.isOpen()) {
            try {
                in.clear();
                var from = udp.receive(in);
                in.flip();
                byte[] query = new byte[in.remaining()];
                in.get(query);
                byte[] answer = responder.answer(query, Responder.UDP_LIMIT);
                if (answer != null) {
                    udp.send(ByteBuffer.wrap(answer), from);
                }
            } catch (IOException e) {
                if (udp.isOpen()) {
                    System.err.println("dns: udp: " + e);
                }
            } catch (RuntimeException e) {
                // One bad query must not stop the server.
                System.err.println("dns: udp query failed: " + e);
            }
        }
    }

    private void acceptTcp() {
        while (!tcp.isClosed()) {
            try {
                Socket s = tcp.accept();
                Thread.ofVirtual().name("dns-tcp-conn").start(() -> serveTcp(s));
            } catch (IOException e) {
                if (!tcp.isClosed()) {
                    System.err.println("dns: tcp accept: " + e);
                }
            }
        }
    }

    private void serveTcp(Socket socket) {
        try (socket) {
            socket.setSoTimeout(TCP_IDLE_MS);
            DataInputStream in = new DataInputStream(socket.getInputStream());
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            while (true) {
                byte[] query = new byte[in.readUnsignedShort()];
                in.readFully(query);
                byte[] answer = responder.answer(query, 65535);
                if (answer == null) {
                    return;
                }
                out.writeShort(answer.length);
                out.write(answer);
                out.flush();
            }
        } catch (EOFException | SocketTimeoutException e) {
            // the client is done, or idle
        } catch (IOException | RuntimeException e) {
            System.err.println("dns: tcp: " + e);
        }
    }

    @Override
    public void close() throws IOException {
        udp.close();
        tcp.close();
    }
}
