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

/**
 * The HTTP/2 (h2c prior knowledge) connections of one event loop to backends: every stream of a request that
 * arrived on this loop is opened on one of them, so a request is never handed between threads. A connection takes
 * streams up to the backend's SETTINGS_MAX_CONCURRENT_STREAMS (at most {@link #MAX_STREAMS}); beyond that another
 * is opened. Only used from its loop.
 */
final class UpstreamPool {
    static final int MAX_STREAMS = 1000;

    private final EventLoop loop;
    private final Transport transport;
    private final Backends backends;
    private final ProxyStats stats;
    private final Map<String, List<Connection>> connections = new HashMap<>();

    UpstreamPool(EventLoop loop, Transport transport, Backends backends, ProxyStats stats) {
        this.loop = loop;
        this.transport = transport;
        this.backends = backends;
        this.stats = stats;
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
        assert loop.inEventLoop();
        Promise<Http2StreamChannel> opened = loop.newPromise();
        Connection connection = connections.computeIfAbsent(endpoint.key(), k -> new ArrayList<>()).stream()
                .filter(Connection::usable).findFirst().orElseGet(() -> connect(endpoint, connectTimeout));
        connection.waiting++;
        connection.ready.addListener(f -> {
            connection.waiting--;
            if (!f.isSuccess()) {
                opened.setFailure(f.cause());
                return;
            }
            connection.streams++;
            new Http2StreamChannelBootstrap(connection.channel).handler(handler).open().addListener(o -> {
                if (o.isSuccess()) {
                    Http2StreamChannel stream = (Http2StreamChannel) o.getNow();
                    stream.closeFuture().addListener(c -> connection.streams--);
                    opened.setSuccess(stream);
                } else {
                    connection.streams--;
                    opened.setFailure(o.cause());
                }
            });
        });
        return opened;
    }

    private Connection connect(Endpoint endpoint, Duration connectTimeout) {
        Connection connection = new Connection(endpoint);
        List<Connection> list = connections.computeIfAbsent(endpoint.key(), k -> new ArrayList<>());
        list.add(connection);
        stats.upstreamConnects.increment();
        Http2FrameCodec codec = Http2FrameCodecBuilder.forClient()
                .initialSettings(Http2Settings.defaultSettings().pushEnabled(false).initialWindowSize(1 << 20))
                .encoderEnforceMaxConcurrentStreams(true)
                .build();
        connection.codec = codec;
        ChannelFuture connecting = new Bootstrap().group(loop).channel(transport.clientChannel())
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
                .connect(new InetSocketAddress(endpoint.address(), endpoint.port()));
        connection.channel = connecting.channel();
        connecting.addListener(f -> {
            if (f.isSuccess()) {
                connection.ready.setSuccess(connection);
            } else {
                stats.upstreamConnectFailures.increment();
                list.remove(connection);
                String why = "connect to " + endpoint + " failed: " + message(f.cause());
                backends.eject(endpoint, why);
                connection.ready.setFailure(new UpstreamException(why, true, f.cause()));
            }
        });
        connection.channel.closeFuture().addListener(f -> {
            list.remove(connection);
            if (connection.ready.isSuccess() && connection.streams > 0 && !connection.goingAway) {
                backends.eject(endpoint, "connection to " + endpoint + " lost under " + connection.streams + " requests");
            }
        });
        return connection;
    }

    static String message(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        return m == null ? root.getClass().getSimpleName() : m;
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
        connections.values().forEach(list -> List.copyOf(list).forEach(c -> c.channel.close()));
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
