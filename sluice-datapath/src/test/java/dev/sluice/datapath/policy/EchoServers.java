package dev.sluice.datapath.policy;

import dev.sluice.linux.NetNs;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Servers on one address of a namespace: on each TCP port, every connection is greeted with
 * "HELLO CLIENT_ADDRESS:PORT" and then each line it sends is echoed back, until it closes; on the UDP
 * port, every datagram is answered with "CLIENT_ADDRESS:PORT". The sockets are created on a thread inside
 * the namespace (so they belong to it); serving them from other threads does not change that.
 */
final class EchoServers implements AutoCloseable {
    private final List<AutoCloseable> sockets = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();

    EchoServers(NetNs ns, String address, List<Integer> tcpPorts, int udpPort) {
        try {
            for (int port : tcpPorts) {
                ServerSocket tcp = ns.call(() -> new ServerSocket(port, 64, InetAddress.getByName(address)));
                sockets.add(tcp);
                threads.add(Thread.ofPlatform().daemon().name("echo-tcp-" + address + ":" + port).start(() -> accept(tcp)));
            }
            DatagramSocket udp = ns.call(() -> new DatagramSocket(new InetSocketAddress(address, udpPort)));
            sockets.add(udp);
            threads.add(Thread.ofPlatform().daemon().name("echo-udp-" + address).start(() -> serveUdp(udp)));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private void accept(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                sockets.add(s);
                Thread.ofPlatform().daemon().name("echo-conn").start(() -> serveTcp(s));
            } catch (IOException ignored) {
                // closed by the test
            }
        }
    }

    private static void serveTcp(Socket s) {
        try (s) {
            OutputStream out = s.getOutputStream();
            out.write(("HELLO " + s.getInetAddress().getHostAddress() + ":" + s.getPort() + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (IOException ignored) {
            // a client that went away, or closed by the test
        }
    }

    private static void serveUdp(DatagramSocket server) {
        byte[] buf = new byte[2048];
        while (!server.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                server.receive(p);
                byte[] reply = (p.getAddress().getHostAddress() + ":" + p.getPort()).getBytes(StandardCharsets.UTF_8);
                server.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
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
