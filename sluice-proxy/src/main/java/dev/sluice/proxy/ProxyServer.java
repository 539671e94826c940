package dev.sluice.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The node-local L7 proxy: one listener taking HTTP/1.1 and h2c with prior knowledge (told apart by the HTTP/2
 * connection preface), routing each request by the current {@link RouteTableSource}. Event loops are epoll's where
 * available; each loop keeps its own upstream connections, so a request is served by one thread end to end.
 */
public final class ProxyServer implements AutoCloseable, ProxyContext {
    private final RouteTableSource routes;
    private final ProxyStats stats = new ProxyStats();
    private final Backends backends;
    private final Transport transport = Transport.best();
    private final EventLoopGroup loops;
    private final ConcurrentHashMap<EventLoop, UpstreamPool> pools = new ConcurrentHashMap<>();
    private Channel listener;
    private volatile Admission admission = Admission.ALL;
    private volatile AccessLog accessLog = AccessLog.NONE;

    /**
     * @param threads event loops (0: one per processor)
     * @param ejection how long a backend that failed is left out
     */
    public record Options(int threads, Duration ejection) {
        public static Options defaults() {
            return new Options(0, Duration.ofSeconds(5));
        }
    }

    private ProxyServer(RouteTableSource routes, Options options) {
        this.routes = routes;
        this.backends = new Backends(options.ejection(), stats);
        this.loops = transport.group(options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors());
    }

    public static ProxyServer start(RouteTableSource routes, InetAddress address, int port, Options options) throws IOException {
        return start(routes, address, port, options, Admission.ALL);
    }

    /** @param admission decides, per request and backend, whether the client may reach it (L4 policy) */
    public static ProxyServer start(RouteTableSource routes, InetAddress address, int port, Options options, Admission admission)
            throws IOException {
        return start(routes, address, port, options, admission, AccessLog.NONE);
    }

    /**
     * @param accessLog told of every request once it is over, from the event loop that served it: it must not
     *                  block (an {@link AccessLogQueue} in front of a slow sink)
     */
    public static ProxyServer start(RouteTableSource routes, InetAddress address, int port, Options options, Admission admission,
                                    AccessLog accessLog) throws IOException {
        ProxyServer server = new ProxyServer(routes, options);
        server.admission = admission;
        server.accessLog = accessLog;
        var bound = new ServerBootstrap().group(server.loops).channel(server.transport.serverChannel())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        server.stats.downstreamConnections.increment();
                        ch.pipeline().addLast(new Sniffer(server));
                    }
                })
                .bind(address, port).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            server.close();
            throw new IOException("cannot listen on " + address.getHostAddress() + " port " + port + ": "
                    + bound.cause().getMessage(), bound.cause());
        }
        server.listener = bound.channel();
        return server;
    }

    @Override
    public Admission admission() {
        return admission;
    }

    @Override
    public AccessLog accessLog() {
        return accessLog;
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /** "epoll" or "nio". */
    public String transport() {
        return transport.name();
    }

    public ProxyStats stats() {
        return stats;
    }

    @Override
    public RouteTableSource routes() {
        return routes;
    }

    @Override
    public Backends backends() {
        return backends;
    }

    @Override
    public UpstreamPool pool(EventLoop loop) {
        return pools.computeIfAbsent(loop, l -> new UpstreamPool(l, transport, backends, stats));
    }

    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        pools.forEach((loop, pool) -> loop.execute(pool::closeAll));
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Reads the first bytes of a connection: the HTTP/2 preface, or else HTTP/1.1. */
    private static final class Sniffer extends ByteToMessageDecoder {
        private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
        private final ProxyServer server;

        Sniffer(ProxyServer server) {
            this.server = server;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
            boolean prefix = ByteBufUtil.equals(in, in.readerIndex(), PREFACE, 0, n);
            if (prefix && n < PREFACE.readableBytes()) {
                return; // not enough yet
            }
            if (prefix) {
                server.stats.downstreamH2.increment();
                ctx.pipeline().addAfter(ctx.name(), "h2", Http2FrameCodecBuilder.forServer()
                        .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(UpstreamPool.MAX_STREAMS)
                                .initialWindowSize(1 << 20))
                        .build());
                ctx.pipeline().addAfter("h2", "h2-multiplex", new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel stream) {
                        stream.pipeline().addLast(new Http2Downstream(server));
                    }
                }));
            } else {
                server.stats.downstreamHttp1.increment();
                ctx.pipeline().addAfter(ctx.name(), "http1", new HttpServerCodec());
                ctx.pipeline().addAfter("http1", "http1-handler", new Http1Downstream(server));
            }
            ctx.pipeline().remove(this);
        }
    }
}
