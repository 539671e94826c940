package dev.sluice.workload;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;

import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The echo workload: on each of its ports it answers HTTP/1.1, h2c (prior knowledge or upgrade) and unary
 * gRPC with the pod's {@link Identity}.
 */
public final class EchoServer implements AutoCloseable {
    private final EventLoopGroup loops;
    /** Whether closing this server ends its event loops (not when they are shared by many servers). */
    private final boolean ownsLoops;
    private final List<ServerSocketChannel> listeners = new ArrayList<>();
    /** Accepted connections, closed with the server (shared loops outlive it, and would keep them open). */
    private final io.netty.channel.group.ChannelGroup connections =
            new io.netty.channel.group.DefaultChannelGroup(io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

    private EchoServer(EventLoopGroup loops, boolean ownsLoops) {
        this.loops = loops;
        this.ownsLoops = ownsLoops;
    }

    /**
     * Listens on {@code ports} of {@code bindAddress} (0 picks a free port) and returns once all are bound.
     *
     * @throws IOException when a port cannot be bound; no port is left open then
     */
    public static EchoServer start(Identity identity, InetAddress bindAddress, List<Integer> ports)
            throws IOException {
        return start(new EchoServer(new MultiThreadIoEventLoopGroup(NioIoHandler.newFactory()), true), identity, bindAddress, ports);
    }

    /**
     * As {@link #start(Identity, InetAddress, List)}, on event loops shared with other servers (one process serving
     * many pods). The listening sockets are made by the calling thread, so in its network namespace and cgroup.
     */
    public static EchoServer start(EventLoopGroup shared, Identity identity, InetAddress bindAddress, List<Integer> ports)
            throws IOException {
        return start(new EchoServer(shared, false), identity, bindAddress, ports);
    }

    private static EchoServer start(EchoServer server, Identity identity, InetAddress bindAddress, List<Integer> ports)
            throws IOException {
        if (ports.isEmpty()) {
            server.close();
            throw new IllegalArgumentException("no port to listen on");
        }
        EchoJson json = new EchoJson(identity);
        GrpcEchoService grpc = new GrpcEchoService(identity);
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(server.loops)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel connection) {
                        server.connections.add(connection);
                        connection.pipeline().addLast(new ProtocolDetector(json, grpc));
                    }
                });
        for (int port : ports) {
            ChannelFuture bound = bootstrap.bind(bindAddress, port).awaitUninterruptibly();
            if (!bound.isSuccess()) {
                server.close();
                throw new IOException("cannot listen on " + bindAddress.getHostAddress() + " port " + port + ": "
                        + bound.cause().getMessage(), bound.cause());
            }
            server.listeners.add((ServerSocketChannel) bound.channel());
        }
        return server;
    }

    /** The ports listened on, in the order they were asked for, with 0 replaced by the port picked. */
    public List<Integer> boundPorts() {
        return listeners.stream().map(listener -> listener.localAddress().getPort()).toList();
    }

    /** Stops listening and closes every connection. */
    @Override
    public void close() {
        listeners.forEach(listener -> listener.close().syncUninterruptibly());
        connections.close().awaitUninterruptibly();
        if (ownsLoops) {
            // No quiet period: a stopping pod has nothing left to wait for once its listeners are closed.
            loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
