package dev.sluice.datapath.policy;

import dev.sluice.datapath.NamespaceServers;
import dev.sluice.linux.NetNs;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Servers on one address of a namespace: on each TCP port, every connection is greeted with
 * "HELLO CLIENT_ADDRESS:PORT" and then each line it sends is echoed back, until it closes; on the UDP
 * port, every datagram is answered with "CLIENT_ADDRESS:PORT". The sockets are created on a thread inside
 * the namespace (so they belong to it); serving them from other threads does not change that.
 */
final class EchoServers extends NamespaceServers {
    EchoServers(NetNs ns, String address, List<Integer> tcpPorts, int udpPort) {
        try {
            for (int port : tcpPorts) {
                ServerSocket tcp = track(ns.call(() -> new ServerSocket(port, 64, InetAddress.getByName(address))));
                serve("echo-tcp-" + address + ":" + port, () -> accept(tcp));
            }
            DatagramSocket udp = track(ns.call(() -> new DatagramSocket(new InetSocketAddress(address, udpPort))));
            serve("echo-udp-" + address, () -> answerDatagrams(udp, p -> p.getAddress().getHostAddress() + ":" + p.getPort()));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private void accept(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                Socket s = track(server.accept());
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
}
