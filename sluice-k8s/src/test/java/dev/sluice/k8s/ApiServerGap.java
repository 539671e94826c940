package dev.sluice.k8s;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A loopback TCP proxy between a client and the mock API server, for what a real API server does to its
 * clients that the mock does not: {@link #cut()} drops every connection and refuses new ones (the server is
 * unreachable), and after {@link #resume()} the first watch of each resource is answered 410 Gone, as a real
 * server answers a watch from a resourceVersion its history no longer holds (the mock would instead replay
 * only the objects that exist, losing the deletes made meanwhile). Only GET requests are expected (an
 * informer's lists and watches).
 */
final class ApiServerGap implements AutoCloseable {
    private static final Pattern REQUEST = Pattern.compile("^GET (\\S+?)(\\?\\S*)? HTTP/1\\.1");
    private volatile ServerSocket listener;
    private final int port;
    private final InetSocketAddress upstream;
    private final CopyOnWriteArrayList<Socket> open = new CopyOnWriteArrayList<>();
    private final Set<String> gone = new HashSet<>();
    private volatile boolean reachable = true;
    private volatile int goneAnswered;

    ApiServerGap(InetSocketAddress upstream) throws IOException {
        this.upstream = upstream;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.port = listener.getLocalPort();
        ServerSocket first = listener;
        Thread.ofVirtual().start(() -> accept(first));
    }

    String url() {
        return "http://127.0.0.1:" + port + "/";
    }

    /** The API server becomes unreachable: every connection through here is closed, and new ones are refused (the port is closed). */
    synchronized void cut() throws IOException {
        reachable = false;
        listener.close();
        open.forEach(ApiServerGap::closeQuietly);
        open.clear();
    }

    /** Reachable again, on the same port; the first watch of each resource path is answered 410 Gone. */
    synchronized void resume() throws IOException {
        resume(true);
    }

    /**
     * Reachable again, on the same port.
     *
     * @param expired whether the first watch of each resource path is answered 410 Gone; if not, the mock
     *                answers a resumed watch with the objects that exist, and the deletes made meanwhile are lost
     *                to the watch
     */
    synchronized void resume(boolean expired) throws IOException {
        gone.clear();
        if (expired) {
            gone.add("*");
        }
        ServerSocket again = new ServerSocket();
        again.setReuseAddress(true);
        again.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
        listener = again;
        reachable = true;
        Thread.ofVirtual().start(() -> accept(again));
    }

    int goneAnswered() {
        return goneAnswered;
    }

    private void accept(ServerSocket on) {
        while (!on.isClosed()) {
            try {
                Socket client = on.accept();
                open.add(client);
                Thread.ofVirtual().start(() -> serve(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client; Socket server = new Socket(upstream.getAddress(), upstream.getPort())) {
            open.add(server);
            InputStream in = client.getInputStream();
            OutputStream toServer = server.getOutputStream();
            Thread back = Thread.ofVirtual().start(() -> pipe(server, client));
            boolean first = true;
            while (true) {
                String head = readHead(in);
                if (head == null) {
                    break;
                }
                Matcher m = REQUEST.matcher(head);
                if (m.find() && m.group(2) != null && m.group(2).contains("watch=true") && mustBeGone(m.group(1))) {
                    goneAnswered++;
                    if (first) {
                        expired(head, client.getOutputStream());
                    }
                    break; // on a reused connection, dropping it makes the client try again on a new one
                }
                first = false;
                toServer.write(head.getBytes(StandardCharsets.ISO_8859_1));
                toServer.flush();
                if (head.toLowerCase(java.util.Locale.ROOT).contains("\r\nupgrade:")) {
                    in.transferTo(toServer); // a WebSocket from here on: frames, no more requests
                    break;
                }
            }
            server.close();
            back.join();
        } catch (IOException | InterruptedException e) {
            // The connection ends either way.
        } finally {
            open.remove(client);
        }
    }

    /**
     * What a real API server answers a watch from a resourceVersion it no longer holds: the watch is opened
     * (here a WebSocket, as fabric8 watches) and its one event is an ERROR with a Status of code 410.
     */
    private static void expired(String head, OutputStream out) throws IOException {
        Matcher key = Pattern.compile("(?im)^sec-websocket-key:\\s*(\\S+)").matcher(head);
        byte[] event = ("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                + "\"reason\":\"Expired\",\"message\":\"too old resource version\",\"code\":410}}").getBytes(StandardCharsets.UTF_8);
        if (!key.find()) {
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            out.write(event);
            out.write('\n');
            out.flush();
            return;
        }
        String accept;
        try {
            accept = java.util.Base64.getEncoder().encodeToString(java.security.MessageDigest.getInstance("SHA-1")
                    .digest((key.group(1) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.ISO_8859_1)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                + accept + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        // One unmasked text frame (server to client), then a normal close.
        out.write(0x81);
        if (event.length < 126) {
            out.write(event.length);
        } else {
            out.write(126);
            out.write(event.length >> 8);
            out.write(event.length & 0xff);
        }
        out.write(event);
        out.write(new byte[]{(byte) 0x88, 2, 0x03, (byte) 0xe8});
        out.flush();
    }

    private synchronized boolean mustBeGone(String path) {
        if (gone.contains("*")) {
            gone.remove("*");
            gone.add("armed");
        }
        return gone.contains("armed") && gone.add(path);
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    private static void pipe(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
        } catch (IOException e) {
            // closed
        } finally {
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing to keep
        }
    }

    @Override
    public void close() throws IOException {
        cut();
    }
}
