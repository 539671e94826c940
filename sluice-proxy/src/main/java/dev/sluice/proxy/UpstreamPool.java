package dev.sluice.proxy;

import dev.sluice.l7.route.Endpoint;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP/2 (h2c prior knowledge) connections of one event loop to backends: every stream of a request that
 * arrived on this loop is opened on one of them, so a request is never handed between threads. A connection takes
 * streams up to the backend's SETTINGS_MAX_CONCURRENT_STREAMS (at most {@link #MAX_STREAMS}); beyond that another
 * is opened. Only used from its loop.
 *
 * <p>Connections are kept per backend and source: the node's own address, or a client's address for
 * identity-preserving forwarding ({@link Source}), so that a stream is only ever carried on a connection the
 * backend's datapath admitted for that client's identity.
 *
 * <p>A connection left without a stream for the idle timeout is closed: without that, every client-source
 * connection, and every connection to a backend that left the cluster, would stay open for the proxy's life. A timer
 * armed when its last stream closes (and cancelled when it takes a stream) does it, rather than Netty's
 * IdleStateHandler, which would add a listener to every write on the request path to watch what the stream count
 * already says.
 */
final class UpstreamPool {
    static final int MAX_STREAMS = 1000;

    private final EventLoop loop;
    private final Transport transport;
    private final Backends backends;
    private final ProxyStats stats;
    private final Map<String, List<Connection>> connections = new HashMap<>();
    private final long idleMillis;

    UpstreamPool(EventLoop loop, Transport transport, Backends backends, ProxyStats stats, Duration idle) {
        this.idleMillis = Math.max(1, idle.toMillis());
        this.loop = loop;
        this.transport = transport;
        this.backends = backends;
        this.stats = stats;
    }

    /**
     * Where a connection comes from: the node ({@link #NODE}, the kernel's choice), or a client's own address
     * ({@code IP_TRANSPARENT}: the backend's datapath sees the client, and its ipcache gives the client's identity).
     * A connect failure from a client's address is that client's (its policy may drop it), not the backend's: it
     * does not eject the backend when {@code ejectOnFailure} is false.
     */
    record Source(java.net.InetAddress client, boolean ejectOnFailure) {
        static final Source NODE = new Source(null, true);

        String key(Endpoint endpoint) {
            return client == null ? endpoint.key() : endpoint.key() + "<" + client.getHostAddress();
        }
    }

    /** Whether connections can come from a client's address ({@code IP_TRANSPARENT}: the epoll transport only). */
    boolean transparent() {
        return transport.name().equals("epoll");
    }

    /** One connection to a backend. */
    final class Connection {
        final Endpoint endpoint;
        final Promise<Connection> ready;
        Channel channel;
        Http2FrameCodec codec;
        int streams;
        int waiting;
        boolean goingAway;
        /** Armed while the connection has no stream: closes it when it fires. */
        io.netty.util.concurrent.ScheduledFuture<?> idleClose;

        Connection(Endpoint endpoint) {
            this.endpoint = endpoint;
            this.ready = loop.newPromise();
        }

        boolean usable() {
            int limit = codec == null ? MAX_STREAMS
                    : Math.min(MAX_STREAMS, codec.connection().local().maxActiveStreams());
            return !goingAway && (!ready.isDone() || ready.isSuccess() && channel.isActive()) && streams + waiting < limit;
        }
    }

    /**
     * Opens a stream to {@code endpoint} with {@code handler}, connecting first if no connection has room.
     * The future fails with the connect or open failure.
     */
    Future<Http2StreamChannel> openStream(Endpoint endpoint, Duration connectTimeout, io.netty.channel.ChannelHandler handler) {
        return openStream(endpoint, Source.NODE, connectTimeout, handler);
    }

    /** As {@link #openStream(Endpoint, Duration, io.netty.channel.ChannelHandler)}, on a connection from {@code source}. */
    Future<Http2StreamChannel> openStream(Endpoint endpoint, Source source, Duration connectTimeout, io.netty.channel.ChannelHandler handler) {
        assert loop.inEventLoop();
        Promise<Http2StreamChannel> opened = loop.newPromise();
        String key = source.key(endpoint);
        Connection connection = null;
        List<Connection> existing = connections.get(key);
        if (existing != null) {
            for (Connection c : existing) { // a loop, not a stream: this runs per request
                if (c.usable()) {
                    connection = c;
                    break;
                }
            }
        }
        if (connection == null) {
            connection = connect(endpoint, source, key, connectTimeout);
        }
        Connection chosen = connection;
        chosen.waiting++;
        if (chosen.idleClose != null) {
            chosen.idleClose.cancel(false);
            chosen.idleClose = null;
        }
        chosen.ready.addListener(f -> {
            chosen.waiting--;
            if (!f.isSuccess()) {
                opened.setFailure(f.cause());
                return;
            }
            chosen.streams++;
            new Http2StreamChannelBootstrap(chosen.channel).handler(handler).open().addListener(o -> {
                if (o.isSuccess()) {
                    Http2StreamChannel stream = (Http2StreamChannel) o.getNow();
                    stream.closeFuture().addListener(c -> {
                        chosen.streams--;
                        armIdleClose(chosen);
                    });
                    opened.setSuccess(stream);
                } else {
                    chosen.streams--;
                    armIdleClose(chosen);
                    opened.setFailure(o.cause());
                }
            });
        });
        return opened;
    }

    private Connection connect(Endpoint endpoint, Source source, String key, Duration connectTimeout) {
        Connection connection = new Connection(endpoint);
        List<Connection> list = connections.computeIfAbsent(key, k -> new ArrayList<>());
        list.add(connection);
        stats.upstreamConnects.increment();
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).initialWindowSize(1 << 20))
                .encoderEnforceMaxConcurrentStreams(true)
                .build();
        connection.codec = codec;
        Bootstrap bootstrap = new Bootstrap().group(loop).channel(transport.clientChannel());
        if (source.client() != null) {
            stats.clientSourceConnects.increment();
            // IP_TRANSPARENT lets the socket bind the client's (non-local) address; the replies come back to it
            // because the datapath marks them for local delivery (docs/l7.md, "Identity-preserving forwarding").
            bootstrap.option(io.netty.channel.epoll.EpollChannelOption.IP_TRANSPARENT, true);
        }
        ChannelFuture connecting = bootstrap
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, connectTimeout.toMillis()))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(codec, new Http2MultiplexHandler(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRegistered(ChannelHandlerContext ctx) {
                                ctx.close(); // a pushed stream: push is disabled, so a backend that pushes is refused
                            }
                        }), new ConnectionEvents(connection));
                    }
                })
                .connect(new InetSocketAddress(endpoint.address(), endpoint.port()),
                        source.client() == null ? null : new InetSocketAddress(source.client(), 0));
        connection.channel = connecting.channel();
        connecting.addListener(f -> {
            if (f.isSuccess()) {
                connection.ready.setSuccess(connection);
            } else {
                stats.upstreamConnectFailures.increment();
                forget(key, list, connection);
                String why = "connect to " + endpoint + (source.client() == null ? "" : " from " + source.client().getHostAddress())
                        + " failed: " + message(f.cause());
                if (source.ejectOnFailure()) {
                    backends.eject(endpoint, why);
                }
                connection.ready.setFailure(new UpstreamException(why, true, f.cause()));
            }
        });
        connection.channel.closeFuture().addListener(f -> {
            forget(key, list, connection);
            if (connection.ready.isSuccess() && connection.streams > 0 && !connection.goingAway) {
                backends.eject(endpoint, "connection to " + endpoint + " lost under " + connection.streams + " requests");
            }
        });
        return connection;
    }

    /** Drops a connection; a key left without one goes too (a key per client source would otherwise pile up). */
    private void forget(String key, List<Connection> list, Connection connection) {
        list.remove(connection);
        if (list.isEmpty() && connections.get(key) == list) {
            connections.remove(key);
        }
    }

    static String message(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        return m == null ? root.getClass().getSimpleName() : m;
    }

    /**
     * Arms the idle close of a connection left with no stream and nobody waiting for one. A stream that is open but
     * quiet (a long poll, a server stream between messages) keeps its connection. goingAway first when it fires, so
     * nothing picks the connection meanwhile (all of this runs on the pool's loop).
     */
    private void armIdleClose(Connection connection) {
        if (connection.streams != 0 || connection.waiting != 0 || connection.idleClose != null || !connection.channel.isActive()) {
            return;
        }
        connection.idleClose = loop.schedule(() -> {
            connection.idleClose = null;
            if (connection.streams == 0 && connection.waiting == 0 && connection.channel.isActive()) {
                connection.goingAway = true;
                stats.upstreamIdleCloses.increment();
                connection.channel.close();
            }
        }, idleMillis, TimeUnit.MILLISECONDS);
    }

    /** GOAWAY from the backend: no new streams on this connection. */
    private static final class ConnectionEvents extends ChannelInboundHandlerAdapter {
        private final Connection connection;

        ConnectionEvents(Connection connection) {
            this.connection = connection;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2GoAwayFrame) {
                connection.goingAway = true;
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    void closeAll() {
        // Copies: a closed connection leaves its list, and an empty list its map, as it goes.
        List.copyOf(connections.values()).forEach(list -> List.copyOf(list).forEach(c -> c.channel.close()));
    }

    /** A failure to reach a backend; {@code retryable} when nothing of the request was sent. */
    static final class UpstreamException extends Exception {
        final boolean retryable;

        UpstreamException(String message, boolean retryable, Throwable cause) {
            super(message, cause, false, false);
            this.retryable = retryable;
        }
    }
}
