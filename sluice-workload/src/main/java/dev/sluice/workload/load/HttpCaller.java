package dev.sluice.workload.load;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.ScheduledFuture;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * HTTP/1.1 GETs over keep-alive connections, one TCP connection per load connection, all on a small Netty event
 * loop group. A connection that fails or is closed is counted ("-1", as fortio's socket errors) and opened again
 * for the next request. Every connection's state lives on its own event loop, so it needs no lock.
 */
final class HttpCaller implements Caller {
    private static final int MAX_BODY = 1 << 20;

    private final EventLoopGroup group;
    private final Connection[] connections;
    private final LoadSpec.Http target;
    private final Duration timeout;

    HttpCaller(LoadSpec.Http target, int connections, Duration timeout, int eventLoopThreads) {
        this.target = target;
        this.timeout = timeout;
        this.group = new MultiThreadIoEventLoopGroup(eventLoopThreads, NioIoHandler.newFactory());
        this.connections = new Connection[connections];
        for (int c = 0; c < connections; c++) {
            this.connections[c] = new Connection(group.next());
        }
    }

    @Override
    public void call(int connection, Consumer<Outcome> done) {
        Connection conn = connections[connection];
        conn.loop.execute(() -> conn.request(done));
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** One keep-alive connection with at most one request outstanding; touched only on its event loop. */
    private final class Connection {
        private final EventLoop loop;
        private Channel channel;
        private Consumer<Outcome> pending;
        private ScheduledFuture<?> deadline;

        Connection(EventLoop loop) {
            this.loop = loop;
        }

        void request(Consumer<Outcome> done) {
            pending = done;
            deadline = loop.schedule(() -> fail("timeout after " + timeout.toMillis() + " ms"), timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (channel != null && channel.isActive()) {
                send();
                return;
            }
            ChannelFuture connect = new Bootstrap()
                    .group(loop)
                    .channel(NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, timeout.toMillis()))
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_BODY), new Answer());
                        }
                    })
                    .connect(target.url().getHost(), target.port());
            channel = connect.channel();
            connect.addListener(f -> {
                if (!f.isSuccess()) {
                    fail("connect: " + f.cause());
                } else if (pending != null) {
                    send();
                }
            });
        }

        private void send() {
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target.pathAndQuery());
            String host = target.url().getHost();
            request.headers().set(HttpHeaderNames.HOST, target.url().getPort() < 0 ? host : host + ":" + target.port());
            request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            request.headers().set(HttpHeaderNames.USER_AGENT, "sluice-load");
            channel.writeAndFlush(request).addListener(f -> {
                if (!f.isSuccess()) {
                    fail("write: " + f.cause());
                }
            });
        }

        private void complete(Outcome outcome) {
            Consumer<Outcome> done = pending;
            if (done == null) {
                return;
            }
            pending = null;
            deadline.cancel(false);
            done.accept(outcome);
        }

        private void fail(String why) {
            if (pending == null) {
                return;
            }
            // The connection's state is unknown after a failure (a late answer would be taken for the next one).
            if (channel != null) {
                channel.close();
                channel = null;
            }
            complete(Outcome.failure("-1", why));
        }

        /** The answer to the outstanding request, or the connection's end. */
        private final class Answer extends SimpleChannelInboundHandler<FullHttpResponse> {
            @Override
            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
                int status = response.status().code();
                if (!HttpUtil.isKeepAlive(response)) {
                    ctx.close();
                    if (channel == ctx.channel()) {
                        channel = null;
                    }
                }
                complete(status / 100 == 2 ? Outcome.success(Integer.toString(status))
                        : Outcome.failure(Integer.toString(status), "HTTP status " + status));
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                if (channel == ctx.channel()) {
                    fail("connection closed before the answer");
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                if (channel == ctx.channel()) {
                    fail(cause.toString());
                } else {
                    ctx.close();
                }
            }
        }
    }
}
