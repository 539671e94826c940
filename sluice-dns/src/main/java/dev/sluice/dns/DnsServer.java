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
import java.time.Instant;

import org.xbill.DNS.Message;

/**
 * DNS over UDP and TCP on one port. UDP is answered on the receiving thread (each answer is a map lookup);
 * TCP (what a client uses after a truncated answer) takes a virtual thread per connection, several queries
 * on one connection, and closes it after 10 s idle.
 */
public final class DnsServer implements AutoCloseable {
    private static final int TCP_IDLE_MS = 10_000;

    /** Told of every query answered (the cluster DNS server's flows); called on the serving thread, so it must not block. */
    public interface Listener {
        Listener NONE = (startNanos, latencyNanos, client, local, transport, answer) -> { };

        void answered(long startNanos, long latencyNanos, InetSocketAddress client, InetSocketAddress local, String transport,
                      Message answer);
    }

    private final Responder responder;
    private final DatagramChannel udp;
    private final ServerSocket tcp;
    private final Listener listener;

    public DnsServer(Responder responder, InetSocketAddress bind) throws IOException {
        this(responder, bind, Listener.NONE);
    }

    public DnsServer(Responder responder, InetSocketAddress bind, Listener listener) throws IOException {
        this.responder = responder;
        this.listener = listener;
        this.udp = DatagramChannel.open().bind(bind);
        this.tcp = new ServerSocket();
        tcp.setReuseAddress(true);
        // Port 0 (tests): TCP on the port UDP was given, so that one port serves both as on 53.
        tcp.bind(new InetSocketAddress(bind.getAddress(), ((InetSocketAddress) udp.getLocalAddress()).getPort()), 128);
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
                long start = nowNanos();
                long t0 = System.nanoTime();
                in.flip();
                byte[] query = new byte[in.remaining()];
                in.get(query);
                Responder.Reply reply = responder.reply(query, Responder.UDP_LIMIT);
                if (reply != null) {
                    udp.send(ByteBuffer.wrap(reply.wire()), from);
                    tell(start, System.nanoTime() - t0, from, (InetSocketAddress) udp.getLocalAddress(), "udp", reply);
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
                long start = nowNanos();
                long t0 = System.nanoTime();
                Responder.Reply reply = responder.reply(query, 65535);
                if (reply == null) {
                    return;
                }
                out.writeShort(reply.wire().length);
                out.write(reply.wire());
                out.flush();
                tell(start, System.nanoTime() - t0, (InetSocketAddress) socket.getRemoteSocketAddress(),
                        (InetSocketAddress) socket.getLocalSocketAddress(), "tcp", reply);
            }
        } catch (EOFException | SocketTimeoutException e) {
            // the client is done, or idle
        } catch (IOException | RuntimeException e) {
            System.err.println("dns: tcp: " + e);
        }
    }

    private void tell(long start, long latency, java.net.SocketAddress client, InetSocketAddress local, String transport,
                      Responder.Reply reply) {
        if (reply.message() == null || !(client instanceof InetSocketAddress c)) {
            return; // a FORMERR to bytes that did not parse: nothing was asked
        }
        try {
            listener.answered(start, latency, c, local, transport, reply.message());
        } catch (RuntimeException e) {
            System.err.println("dns: reporting an answer failed: " + e); // the answer was sent; only its flow is lost
        }
    }

    private static long nowNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    @Override
    public void close() throws IOException {
        udp.close();
        tcp.close();
    }
}
