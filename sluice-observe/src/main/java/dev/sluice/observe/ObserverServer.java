package dev.sluice.observe;

import dev.sluice.observe.hubble.HubbleObserverService;
import dev.sluice.observe.hubble.PeerService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

/**
 * Hubble's Observer API ({@code observer.Observer}) and peer service ({@code peer.Peer}), with Sluice's own
 * {@code sluice.observer.v1.Observer} beside them, on a unix socket (as Hubble's {@code unix:///var/run/cilium/hubble.sock}) and, when
 * asked, on a TCP port of 127.0.0.1 only: flows name pods and policies, so they are not for the network.
 */
public final class ObserverServer implements AutoCloseable {
    private final Path socket;
    private final Server unixServer;
    private final Server tcpServer;
    private final EventLoopGroup epoll;
    private final PeerService peers;

    private ObserverServer(Path socket, Server unixServer, Server tcpServer, EventLoopGroup epoll, PeerService peers) {
        this.socket = socket;
        this.peers = peers;
        this.unixServer = unixServer;
        this.tcpServer = tcpServer;
        this.epoll = epoll;
    }

    /**
     * @param tcpPort a port on 127.0.0.1 to listen on as well (0 picks a free one), or empty for the socket only
     * @throws UncheckedIOException when the socket or port cannot be bound
     */
    public static ObserverServer start(FlowRing ring, String nodeName, Path socket, OptionalInt tcpPort) {
        ObserverService service = new ObserverService(ring, nodeName);
        HubbleObserverService hubble = new HubbleObserverService(ring, nodeName, "unix://" + socket.toAbsolutePath(), service);
        PeerService peers = new PeerService();
        // Until the agent says which nodes the cluster has, the peers are this node.
        peers.peers(java.util.Map.of(nodeName, "unix://" + socket.toAbsolutePath()));
        EventLoopGroup epoll = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Server unixServer = null;
        try {
            // A socket left by an agent that died would make bind fail.
            Files.deleteIfExists(socket);
            unixServer = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollServerDomainSocketChannel.class)
                    .bossEventLoopGroup(epoll)
                    .workerEventLoopGroup(epoll)
                    .addService(service)
                    .addService(hubble)
                    .addService(peers)
                    .build()
                    .start();
            Server tcpServer = null;
            if (tcpPort.isPresent()) {
                tcpServer = NettyServerBuilder
                        .forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), tcpPort.getAsInt()))
                        .addService(service)
                        .addService(hubble)
                        .addService(peers)
                        .build()
                        .start();
            }
            return new ObserverServer(socket, unixServer, tcpServer, epoll, peers);
        } catch (IOException e) {
            if (unixServer != null) {
                unixServer.shutdownNow();
            }
            epoll.shutdownGracefully();
            throw new UncheckedIOException("cannot serve the Observer API on " + socket, e);
        }
    }

    /** Hubble's peer service of this node: the agent sets every node's Observer API address here. */
    public PeerService peers() {
        return peers;
    }

    public Path socket() {
        return socket;
    }

    /** The TCP port on 127.0.0.1, when the server listens on one. */
    public OptionalInt tcpPort() {
        return tcpServer == null ? OptionalInt.empty() : OptionalInt.of(tcpServer.getPort());
    }

    @Override
    public void close() {
        unixServer.shutdownNow();
        if (tcpServer != null) {
            tcpServer.shutdownNow();
        }
        try {
            unixServer.awaitTermination(5, TimeUnit.SECONDS);
            if (tcpServer != null) {
                tcpServer.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        epoll.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + socket, e);
        }
    }
}
