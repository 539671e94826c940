package dev.sluice.e2e;

import dev.sluice.linux.NetNs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A plain HTTP/1.1 GET from inside a lab namespace. The socket is a blocking java.net.Socket created on
 * the thread that NetNs.call moved into the namespace, so it belongs to that namespace; clients with
 * event-loop threads of their own (Netty, gRPC, java.net.http) would open their sockets in the
 * machine's namespace instead, and are only ever run inside pods with `lab exec`.
 */
final class PodHttp {
    private PodHttp() {
    }

    static String get(NetNs from, String ip, int port, String path) {
        return from.call(() -> {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(ip, port), 2_000);
                socket.setSoTimeout(5_000);
                OutputStream out = socket.getOutputStream();
                out.write(("GET " + path + " HTTP/1.1\r\nHost: " + ip + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                InputStream in = socket.getInputStream();
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("GET http://" + ip + ":" + port + path + " from " + from.name(), e);
            }
        });
    }
}
