package dev.sluice.datapath;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * Test servers whose sockets were made inside a network namespace (so they belong to it) and are served by
 * threads of their own; closing closes every socket and waits for the threads.
 */
public abstract class NamespaceServers implements AutoCloseable {
    private final List<AutoCloseable> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();

    /** Closed with the servers. */
    protected final <S extends AutoCloseable> S track(S socket) {
        sockets.add(socket);
        return socket;
    }

    protected final void serve(String threadName, Runnable body) {
        threads.add(Thread.ofPlatform().daemon().name(threadName).start(body));
    }

    /** Answers every datagram with {@code reply} of it, until the socket is closed. */
    protected static void answerDatagrams(DatagramSocket server, Function<DatagramPacket, String> reply) {
        byte[] buf = new byte[2048];
        while (!server.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                server.receive(p);
                byte[] answer = reply.apply(p).getBytes(StandardCharsets.UTF_8);
                server.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
            } catch (IOException ignored) {
                // closed by the test
            }
        }
    }

    @Override
    public void close() {
        for (AutoCloseable s : sockets) {
            try {
                s.close();
            } catch (Exception ignored) {
                // closing anyway
            }
        }
        for (Thread t : threads) {
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
