package dev.sluice.observe.relay;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code sluice relay}: Hubble Relay for a lab. Finds the nodes through an agent's peer service and serves
 * Hubble's Observer API over all of them, on 127.0.0.1 (4245, where {@code hubble observe --server
 * localhost:4245} looks) and on a unix socket. Runs until stopped (SIGTERM).
 */
@Command(name = "relay", mixinStandardHelpOptions = true,
        description = "Serve Hubble's Observer API over every node (Hubble Relay), found through the agents' peer service.")
public final class RelayCommand implements Callable<Integer> {
    /** Hubble Relay's port. */
    public static final int DEFAULT_PORT = 4245;

    @Option(names = "--peer-service", required = true, paramLabel = "unix:///PATH|HOST:PORT",
            description = "An agent's peer service (its Observer socket); repeat it: the next is tried when one is gone.")
    List<String> peerServices = new ArrayList<>();
    @Option(names = "--listen-address", paramLabel = "127.0.0.1:PORT", description = "TCP address to serve on (default: ${DEFAULT-VALUE}).")
    String listenAddress = "127.0.0.1:" + DEFAULT_PORT;
    @Option(names = "--any-port-if-busy", description = "Serve on a free port when the --listen-address port is taken (another lab's relay has it).")
    boolean anyPortIfBusy;
    @Option(names = "--unix-socket", paramLabel = "PATH", description = "A unix socket to serve on as well.")
    Path unixSocket;
    @Option(names = "--port-file", paramLabel = "PATH", description = "Where to write the TCP port served on, once serving.")
    Path portFile;
    @Option(names = "--sort-buffer-len-max", paramLabel = "N", description = "Flows held at most for ordering (default: ${DEFAULT-VALUE}).")
    int sortBufferLenMax = 100;
    @Option(names = "--sort-buffer-drain-timeout", paramLabel = "MS",
            description = "How long a followed flow waits for older ones of other nodes, ms (default: ${DEFAULT-VALUE}; hubble-relay's is 1000).")
    long drainTimeoutMs = 300;

    private InetAddress bindHost = InetAddress.getLoopbackAddress();

    public static void main(String[] args) {
        System.exit(new CommandLine(new RelayCommand()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        String host = listenAddress.substring(0, Math.max(0, listenAddress.lastIndexOf(':')));
        InetAddress bind = InetAddress.getByName(host.isEmpty() ? "0.0.0.0" : host);
        if (!dev.sluice.observe.ServingAddress.allowed(bind)) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--listen-address must be on 127.0.0.1, got " + listenAddress
                    + " (" + dev.sluice.observe.ServingAddress.RULE + ")");
        }
        int port;
        try {
            port = Integer.parseInt(listenAddress.substring(listenAddress.lastIndexOf(':') + 1));
        } catch (NumberFormatException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--listen-address: no port in " + listenAddress);
        }
        this.bindHost = bind;
        PeerDirectory peers = new PeerDirectory(peerServices, line -> System.out.println("relay: " + line));
        RelayService service = new RelayService(peers, sortBufferLenMax, Duration.ofMillis(drainTimeoutMs));
        Server tcp = bind(service, bindHost, port, anyPortIfBusy);
        if (tcp.getPort() != port) {
            System.out.println("relay: 127.0.0.1:" + port + " is taken (another lab's relay?); serving on 127.0.0.1:" + tcp.getPort());
        }
        EventLoopGroup epoll = null;
        Server unix = null;
        if (unixSocket != null) {
            Files.deleteIfExists(unixSocket);
            epoll = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
            unix = NettyServerBuilder.forAddress(new DomainSocketAddress(unixSocket.toString()))
                    .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(epoll).workerEventLoopGroup(epoll)
                    .addService(service).build().start();
        }
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, tcp.getPort() + "\n");
            Files.move(tmp, portFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        System.out.println("relay: serving Hubble's Observer API on " + bindHost.getHostAddress() + ":" + tcp.getPort()
                + (unixSocket == null ? "" : " and unix://" + unixSocket) + "; peers from " + String.join(", ", peerServices));
        CountDownLatch stopped = new CountDownLatch(1);
        Server tcpServer = tcp;
        Server unixServer = unix;
        EventLoopGroup group = epoll;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            tcpServer.shutdownNow();
            if (unixServer != null) {
                unixServer.shutdownNow();
                try {
                    Files.deleteIfExists(unixSocket);
                } catch (IOException ignored) {
                    // the lab removes its run directory anyway
                }
            }
            if (group != null) {
                group.shutdownGracefully();
            }
            peers.close();
            stopped.countDown();
        }));
        stopped.await();
        return 0;
    }

    /** Serves on 127.0.0.1:port, or (anyIfBusy) on a free port when another process holds that one. */
    static Server bind(io.grpc.BindableService service, int port, boolean anyIfBusy) throws IOException {
        return bind(service, InetAddress.getLoopbackAddress(), port, anyIfBusy);
    }

    static Server bind(io.grpc.BindableService service, InetAddress host, int port, boolean anyIfBusy) throws IOException {
        try {
            return tcp(service, host, port);
        } catch (IOException e) {
            if (!anyIfBusy || !inUse(e)) {
                throw e;
            }
            return tcp(service, host, 0);
        }
    }

    private static boolean inUse(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BindException || String.valueOf(t.getMessage()).contains("in use")) {
                return true;
            }
        }
        return false;
    }

    private static Server tcp(io.grpc.BindableService service, InetAddress host, int port) throws IOException {
        return NettyServerBuilder.forAddress(new InetSocketAddress(host, port))
                .addService(service).build().start();
    }
}
