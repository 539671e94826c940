package dev.sluice.bench.lb;

import dev.sluice.linux.NetNs;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The backends: one TCP listener on 0.0.0.0:8080 in the server namespace (so on all 4 backend addresses).
 * For each connection it reads one byte and answers with one byte, the last octet of the address the
 * client reached (10..13: which backend answered). It then leaves the socket to a second thread that
 * waits for the client to close first, so TIME_WAIT stays on the client's side and the answering thread
 * is back in accept() at once.
 *
 * <p>The listening socket is created on a thread inside the namespace ({@link NetNs#call}), so it belongs
 * to it; accepting and serving it from other threads does not change that.
 */
public final class ByteServer implements AutoCloseable {
    private final ServerSocket listener;
    private final BlockingQueue<Socket> closing = new LinkedBlockingQueue<>();
    private final Thread acceptor;
    private final Thread closer;

    public ByteServer(NetNs ns, int port) {
        this.listener = ns.call(() -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByAddress(new byte[4]), port), 1024);
            return s;
        });
        this.acceptor = Thread.ofPlatform().daemon().name("lbbench-accept-" + ns.name()).start(this::serve);
        this.closer = Thread.ofPlatform().daemon().name("lbbench-close-" + ns.name()).start(this::drain);
    }

    private void serve() {
        while (!listener.isClosed()) {
            Socket s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            try {
                s.setTcpNoDelay(true);
                s.setSoTimeout(5000);
                if (s.getInputStream().read() >= 0) {
                    byte[] address = s.getLocalAddress().getAddress();
                    s.getOutputStream().write(address[address.length - 1]);
                }
                closing.add(s);
            } catch (IOException e) {
                closeQuietly(s);
            }
        }
    }

    private void drain() {
        while (true) {
            Socket s;
            try {
                s = closing.take();
            } catch (InterruptedException e) {
                return;
            }
            try (InputStream in = s.getInputStream()) {
                while (in.read() >= 0) {
                    // until the client's FIN
                }
            } catch (IOException ignored) {
                // reset or timed out: closing anyway
            } finally {
                closeQuietly(s);
            }
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        closer.interrupt();
        acceptor.join(2000);
        closer.join(2000);
    }
}
