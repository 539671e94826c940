package dev.sluice.agent.l7;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A gRPC server on a unix socket of the node's run directory, on one epoll event loop: how the agent serves
 * its node's proxy (xDS, the control channel). The socket is the only way in, so only what can reach the
 * node's files (root on this machine, the node's own processes) can talk to it.
 */
final class UnixSocketServer implements AutoCloseable {
    private final Path socket;
    private final EventLoopGroup loop;
    private final Server server;

    /** @param what what the socket serves, for the error when it cannot */
    UnixSocketServer(Path socket, String what, BindableService... services) {
        this.socket = socket;
        this.loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        try {
            Files.createDirectories(socket.getParent());
            // A socket left by an agent that died would make bind fail.
            Files.deleteIfExists(socket);
            NettyServerBuilder builder = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                    .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(loop).workerEventLoopGroup(loop);
            for (BindableService s : services) {
                builder.addService(s);
            }
            this.server = builder.build().start();
        } catch (IOException e) {
            loop.shutdownGracefully();
            throw new UncheckedIOException("cannot serve " + what + " on " + socket + ": " + e.getMessage(), e);
        }
    }

    Path socket() {
        return socket;
    }

    /** Stops serving (open calls are cancelled) and removes the socket. */
    @Override
    public void close() {
        server.shutdownNow();
        try {
            server.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            // Left behind: the next agent deletes it before binding.
        }
    }
}
