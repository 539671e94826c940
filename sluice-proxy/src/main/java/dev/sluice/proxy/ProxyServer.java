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
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.util.AsciiString;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;

import dev.sluice.l7.xds.ListenerBinding;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.util.AttributeKey;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
    /** The listeners of Listener resources by name: one per redirected Service port. */
    private final Map<String, Bound> bound = new LinkedHashMap<>();
    private volatile Admission admission = Admission.ALL;
    private volatile AccessLog accessLog = AccessLog.NONE;

    /** The Service port ({@code ns/name:port}) a listener takes, set on each connection it accepts. */
    private static final AttributeKey<String> SERVICE = AttributeKey.valueOf("sluice.proxy.service");

    private final Duration upstreamIdle;

    private record Bound(ListenerBinding binding, Channel channel) {
    }

    /**
     * @param threads event loops (0: one per processor)
     * @param ejection how long a backend that failed is left out
     * @param upstreamIdle how long an upstream connection with no stream stays open (Envoy's
     *     {@code common_http_protocol_options.idle_timeout}); see {@link UpstreamPool}
     */
    public record Options(int threads, Duration ejection, Duration upstreamIdle) {
        /**
         * Envoy keeps idle upstream connections an hour; here a minute, because connections are also kept per
         * client source (identity-preserving forwarding), whose number grows with the clients: an idle pair of
         * client and backend costs one handshake a minute, not a socket forever.
         */
        public static final Duration UPSTREAM_IDLE = Duration.ofSeconds(60);

        public Options(int threads, Duration ejection) {
            this(threads, ejection, UPSTREAM_IDLE);
        }

        public static Options defaults() {
            return new Options(0, Duration.ofSeconds(5));
        }
    }

    private ProxyServer(RouteTableSource routes, Options options) {
        this.routes = routes;
        this.upstreamIdle = options.upstreamIdle();
        this.backends = new Backends(options.ejection(), stats);
        this.loops = transport.group(options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors());
    }

    public static ProxyServer start(RouteTableSource routes, InetAddress address, int port, Options options) throws IOException {
        return start(routes, address, port, options, Admission.ALL);
    }

    /**
     * A proxy with one listener that serves every Service: routes are searched by authority across all of them.
     *
     * @param admission decides, per request and backend, whether the client may reach it (L4 policy)
     */
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
        ProxyServer server = create(routes, options, admission, accessLog);
        try {
            server.listener = server.bind(address, port, null, false);
        } catch (IOException e) {
            server.close();
            throw e;
        }
        return server;
    }

    /** A proxy with no listener yet; {@link #listen} binds those of the Listener resources. */
    public static ProxyServer create(RouteTableSource routes, Options options, Admission admission) {
        return create(routes, options, admission, AccessLog.NONE);
    }

    /** @param accessLog told of every request once it is over (see {@link #start(RouteTableSource, InetAddress, int, Options, Admission, AccessLog)}) */
    public static ProxyServer create(RouteTableSource routes, Options options, Admission admission, AccessLog accessLog) {
        ProxyServer server = new ProxyServer(routes, options);
        server.admission = admission;
        server.accessLog = accessLog;
        return server;
    }

    private Channel bind(InetAddress address, int port, String serviceKey, boolean freebind) throws IOException {
        ServerBootstrap b = new ServerBootstrap().group(loops).channel(transport.serverChannel())
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        stats.downstreamConnections.increment();
                        if (serviceKey != null) {
                            ch.attr(SERVICE).set(serviceKey);
                        }
                        ch.pipeline().addLast(new Sniffer(ProxyServer.this));
                    }
                });
        if (freebind && transport.name().equals("epoll")) {
            b.option(EpollChannelOption.IP_FREEBIND, true);
        }
        var future = b.bind(address, port).awaitUninterruptibly();
        if (!future.isSuccess()) {
            throw new IOException("cannot listen on " + address.getHostAddress() + " port " + port + ": "
                    + future.cause().getMessage(), future.cause());
        }
        return future.channel();
    }

    /**
     * Makes the proxy's listeners those of {@code wanted} (one per Listener resource): binds the new ones, closes
     * those no longer wanted, rebinds one whose address, port or Service changed; leaves the others (and their
     * connections) alone. Where the address cannot be bound on NIO (no {@code IP_FREEBIND}) and freebind is asked
     * for, the port is bound on every address of the node instead.
     *
     * @return one problem per listener that could not be bound (the others are bound)
     */
    public synchronized List<String> listen(List<ListenerBinding> wanted) {
        List<String> problems = new ArrayList<>();
        Map<String, ListenerBinding> want = new LinkedHashMap<>();
        wanted.forEach(w -> want.put(w.name(), w));
        for (var it = bound.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!e.getValue().binding().equals(want.get(e.getKey()))) {
                e.getValue().channel().close().syncUninterruptibly();
                it.remove();
            }
        }
        for (ListenerBinding w : want.values()) {
            if (bound.containsKey(w.name())) {
                continue;
            }
            try {
                InetAddress address = InetAddress.getByName(w.address());
                boolean wildcard = w.freebind() && !transport.name().equals("epoll");
                Channel ch = bind(wildcard ? InetAddress.getByName("0.0.0.0") : address, w.port(), w.serviceKey(), w.freebind());
                bound.put(w.name(), new Bound(w, ch));
            } catch (IOException e) {
                problems.add("listener " + w.name() + ": " + e.getMessage());
            }
        }
        return problems;
    }

    /** The bound listeners: name to {@code address:port}. */
    public synchronized Map<String, String> listeners() {
        Map<String, String> out = new LinkedHashMap<>();
        bound.forEach((name, b) -> {
            InetSocketAddress a = (InetSocketAddress) b.channel().localAddress();
            out.put(name, a.getAddress().getHostAddress() + ":" + a.getPort());
        });
        return out;
    }

    /** The Service port of the listener a connection (or a stream of it) arrived on; null for a catch-all one. */
    static String serviceKey(Channel channel) {
        for (Channel c = channel; c != null; c = c.parent()) {
            String key = c.hasAttr(SERVICE) ? c.attr(SERVICE).get() : null;
            if (key != null) {
                return key;
            }
        }
        return null;
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
        return pools.computeIfAbsent(loop, l -> new UpstreamPool(l, transport, backends, stats, upstreamIdle));
    }

    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        synchronized (this) {
            bound.values().forEach(b -> b.channel().close().syncUninterruptibly());
            bound.clear();
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

        /** The body an upgrade request may carry: it is held whole before the switch (Netty aggregates it). */
        private static final int UPGRADE_BODY_LIMIT = 64 * 1024;

        private Http2FrameCodec h2Codec() {
            return Http2FrameCodecBuilder.forServer()
                    .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(UpstreamPool.MAX_STREAMS)
                            .initialWindowSize(1 << 20))
                    .build();
        }

        private Http2MultiplexHandler h2Multiplex() {
            return new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                @Override
                protected void initChannel(Http2StreamChannel stream) {
                    stream.pipeline().addLast(new Http2Downstream(server));
                }
            });
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
                ctx.pipeline().addAfter(ctx.name(), "h2", h2Codec());
                ctx.pipeline().addAfter("h2", "h2-multiplex", h2Multiplex());
            } else {
                server.stats.downstreamHttp1.increment();
                HttpServerCodec http1 = new HttpServerCodec();
                ctx.pipeline().addAfter(ctx.name(), "http1", http1);
                // h2c upgrade (RFC 7540 3.2): an HTTP/1.1 request with `Upgrade: h2c` and HTTP2-Settings is answered
                // 101 and becomes stream 1 of an HTTP/2 connection (Netty's upgrade handler and codec); any other
                // request passes through it untouched to Http1Downstream.
                ctx.pipeline().addAfter("http1", "h2c-upgrade", new HttpServerUpgradeHandler(http1, protocol -> {
                    if (!AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)) {
                        return null;
                    }
                    server.stats.h2cUpgrades.increment();
                    return new Http2ServerUpgradeCodec(h2Codec(), h2Multiplex());
                }, UPGRADE_BODY_LIMIT));
                ctx.pipeline().addAfter("h2c-upgrade", "http1-handler", new Http1Downstream(server));
            }
            ctx.pipeline().remove(this);
        }
    }
}
