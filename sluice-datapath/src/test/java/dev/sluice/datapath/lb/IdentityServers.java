package dev.sluice.datapath.lb;

import dev.sluice.datapath.NamespaceServers;
import dev.sluice.linux.NetNs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Backends for the LB tests: on each address, a TCP server that answers every connection with one line
 * "LOCAL_ADDRESS CLIENT_ADDRESS:PORT" (who answered, and whom it saw), and a UDP server that answers every
 * datagram with "LOCAL_ADDRESS CLIENT_ADDRESS:PORT". The sockets are created on a thread inside the
 * namespace (so they belong to it); serving them from other threads does not change that.
 */
final class IdentityServers extends NamespaceServers {
    IdentityServers(NetNs ns, List<String> addresses, int tcpPort, int udpPort) {
        try {
            for (String address : addresses) {
                ServerSocket tcp = track(ns.call(() -> new ServerSocket(tcpPort, 64, InetAddress.getByName(address))));
                serve("tcp-" + address, () -> serveTcp(tcp));
                DatagramSocket udp = track(ns.call(() -> new DatagramSocket(new InetSocketAddress(address, udpPort))));
                serve("udp-" + address, () -> answerDatagrams(udp,
                        p -> describe(udp.getLocalAddress(), p.getAddress(), p.getPort())));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private static String describe(InetAddress local, InetAddress remote, int remotePort) {
        return local.getHostAddress() + " " + remote.getHostAddress() + ":" + remotePort;
    }

    private static void serveTcp(ServerSocket server) {
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                OutputStream out = s.getOutputStream();
                out.write((describe(s.getLocalAddress(), s.getInetAddress(), s.getPort()) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                // Wait for the client to close first, so that TIME_WAIT stays on the client's side (which
                // then never reuses a port a backend still remembers).
                s.setSoTimeout(5000);
                InputStream in = s.getInputStream();
                in.readAllBytes();
            } catch (IOException ignored) {
                // closed by the test, or a client that went away
            }
        }
    }
}
