package dev.sluice.datapath.lb;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The socket-LB test's client, run as its own process inside the test's client network namespace
 * ({@code nsenter --net=...}): it first moves itself into the test cgroup, where the socket programs are
 * attached, then talks to a Service address and prints one line per result for the test to check.
 *
 * <p>Arguments: CGROUP OP ADDRESS PORT [COUNT], where OP is
 * <ul>
 *   <li>{@code tcp}: COUNT connections, each printing {@code TCP <server's line> <getpeername()>};</li>
 *   <li>{@code udp}: COUNT unconnected sendto()/recvfrom() exchanges, each printing
 *       {@code UDP <reply> <reply's source>}, then one connected exchange printing
 *       {@code UDPC <reply> <reply's source> <getpeername()>};</li>
 *   <li>{@code refused-tcp} / {@code refused-udp}: one connect() / sendto(), printing
 *       {@code REFUSED <errno> <milliseconds>} (errno 0 if the call succeeded).</li>
 * </ul>
 */
public final class SocketLbClient {
    private static final int TIMEOUT_MILLIS = 3000;

    private SocketLbClient() {
    }

    public static void main(String[] args) throws Throwable {
        // Writing 0 to cgroup.procs moves the writing process itself.
        Files.writeString(Path.of(args[0], "cgroup.procs"), "0");
        String op = args[1];
        String address = args[2];
        int port = Integer.parseInt(args[3]);
        int count = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        switch (op) {
            case "tcp" -> {
                for (int i = 0; i < count; i++) {
                    int fd = LbSockets.socket(LbSockets.SOCK_STREAM, TIMEOUT_MILLIS);
                    try {
                        LbSockets.connect(fd, address, port);
                        String peer = LbSockets.peer(fd);
                        String line = LbSockets.readLine(fd);
                        System.out.println("TCP " + line + " " + peer);
                    } finally {
                        LbSockets.close(fd);
                    }
                }
            }
            case "udp" -> {
                int fd = LbSockets.socket(LbSockets.SOCK_DGRAM, TIMEOUT_MILLIS);
                try {
                    for (int i = 0; i < count; i++) {
                        LbSockets.sendTo(fd, address, port, "ping " + i);
                        String[] reply = LbSockets.receiveFrom(fd);
                        System.out.println("UDP " + reply[0] + " " + reply[1]);
                    }
                } finally {
                    LbSockets.close(fd);
                }
                int connected = LbSockets.socket(LbSockets.SOCK_DGRAM, TIMEOUT_MILLIS);
                try {
                    LbSockets.connect(connected, address, port);
                    LbSockets.send(connected, "ping connected");
                    String[] reply = LbSockets.receiveFrom(connected);
                    System.out.println("UDPC " + reply[0] + " " + reply[1] + " " + LbSockets.peer(connected));
                } finally {
                    LbSockets.close(connected);
                }
            }
            case "refused-tcp", "refused-udp" -> {
                boolean tcp = op.equals("refused-tcp");
                int fd = LbSockets.socket(tcp ? LbSockets.SOCK_STREAM : LbSockets.SOCK_DGRAM, TIMEOUT_MILLIS);
                long start = System.nanoTime();
                int errno = 0;
                try {
                    if (tcp) {
                        LbSockets.connect(fd, address, port);
                    } else {
                        LbSockets.sendTo(fd, address, port, "ping");
                    }
                } catch (LbSockets.SocketError e) {
                    errno = e.errno;
                } finally {
                    LbSockets.close(fd);
                }
                System.out.println("REFUSED " + errno + " " + (System.nanoTime() - start) / 1_000_000);
            }
            default -> throw new IllegalArgumentException("unknown op " + op);
        }
    }
}
