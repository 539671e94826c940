package dev.sluice.e2e;

import dev.sluice.linux.NetNs;

import java.io.IOException;
import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * One connection attempt from inside a pod's network namespace, on a plain socket created on the thread
 * that NetNs.call moved there. Policy drops show as a timeout; an allowed port where nothing listens is
 * refused at once.
 */
final class PodProbe {
    enum Outcome { CONNECTED, REFUSED, DROPPED }

    private PodProbe() {
    }

    static Outcome tcp(NetNs from, String ip, int port, int timeoutMs) {
        return tcp(from, ip, port, timeoutMs, 0);
    }

    /**
     * From {@code localPort} (0: any): a caller that must not meet a conntrack entry of an earlier connection
     * (whose verdict stands for its lifetime, by design) gives every attempt a port of its own.
     */
    static Outcome tcp(NetNs from, String ip, int port, int timeoutMs, int localPort) {
        return from.call(() -> {
            try (Socket s = new Socket()) {
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(localPort));
                s.connect(new InetSocketAddress(ip, port), timeoutMs);
                return Outcome.CONNECTED;
            } catch (SocketTimeoutException e) {
                return Outcome.DROPPED;
            } catch (ConnectException e) {
                return Outcome.REFUSED;
            }
        });
    }

    /**
     * A datagram to the echo workload's UDP port; its answer arriving is CONNECTED. The socket is connected
     * so that an ICMP port unreachable (allowed, nobody listening) is seen as REFUSED rather than silence.
     */
    static Outcome udp(NetNs from, String ip, int port, int timeoutMs) {
        return udp(from, ip, port, timeoutMs, 0);
    }

    /** From {@code localPort} (0: any), as {@link #tcp(NetNs, String, int, int, int)}. */
    static Outcome udp(NetNs from, String ip, int port, int timeoutMs, int localPort) {
        return from.call(() -> {
            try (DatagramSocket s = new DatagramSocket(localPort)) {
                s.setSoTimeout(timeoutMs);
                s.connect(new InetSocketAddress(ip, port));
                byte[] ping = "ping".getBytes();
                s.send(new DatagramPacket(ping, ping.length));
                s.receive(new DatagramPacket(new byte[2048], 2048));
                return Outcome.CONNECTED;
            } catch (SocketTimeoutException e) {
                return Outcome.DROPPED;
            } catch (IOException e) {
                return Outcome.REFUSED; // ICMP port unreachable: allowed, nobody there
            }
        });
    }
}
