package dev.sluice.testing;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run as its own process: joins a cgroup, then makes the socket calls that fire every cgroup hook
 * Sluice uses (connect4, getpeername4, sendmsg4, recvmsg4, sock_release, sock_ops, sk_msg).
 *
 * <p>Arguments: the cgroup directory, a TCP port and a UDP echo port on 127.0.0.1.
 */
public final class CgroupSocketClient {
    private CgroupSocketClient() {
    }

    public static void main(String[] args) throws Throwable {
        // Writing 0 to cgroup.procs moves the writing process itself.
        Files.writeString(Path.of(args[0], "cgroup.procs"), "0");
        int tcpPort = Integer.parseInt(args[1]);
        int udpPort = Integer.parseInt(args[2]);

        int tcp = TestSockets.socket(TestSockets.SOCK_STREAM);
        TestSockets.connectLoopback(tcp, tcpPort);
        if (TestSockets.peerPort(tcp) != tcpPort) {
            throw new IllegalStateException("getpeername returned the wrong port");
        }
        TestSockets.send(tcp, "hello over sk_msg".getBytes(StandardCharsets.UTF_8));
        TestSockets.close(tcp);

        int udp = TestSockets.socket(TestSockets.SOCK_DGRAM);
        TestSockets.sendToLoopback(udp, udpPort, "ping".getBytes(StandardCharsets.UTF_8));
        TestSockets.receiveFrom(udp);
        TestSockets.close(udp);
        System.out.println("done");
    }
}
