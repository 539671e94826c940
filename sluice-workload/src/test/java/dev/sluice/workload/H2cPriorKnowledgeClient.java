package dev.sluice.workload;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP/2 exchange over a fresh h2c connection with prior knowledge, frame by frame, so that tests see the
 * exact headers, body and trailers the server sends (java.net.http cannot speak h2c with prior knowledge).
 */
final class H2cPriorKnowledgeClient {
    record Exchange(Http2Headers headers, byte[] body, Http2Headers trailers) {
    }

    private H2cPriorKnowledgeClient() {
    }

    static Exchange exchange(int port, Http2Headers request, byte[] body) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            Channel connection = new Bootstrap()
                    .group(group)
                    .channel(NioSocketChannel.class)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            // The server never opens streams; the handler for them is never used.
                            ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                    new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                        }
                    })
                    .connect(InetAddress.getLoopbackAddress(), port).sync().channel();
            ExchangeCollector collector = new ExchangeCollector();
            Http2StreamChannel stream = new Http2StreamChannelBootstrap(connection).handler(collector).open().sync()
                    .getNow();
            stream.write(new DefaultHttp2HeadersFrame(request, body.length == 0));
            if (body.length > 0) {
                stream.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), true));
            }
            stream.flush();
            Exchange exchange = collector.result.get(5, TimeUnit.SECONDS);
            connection.close().sync();
            return exchange;
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static final class ExchangeCollector extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Exchange> result = new CompletableFuture<>();
        private final ByteArrayOutputStream body = new ByteArrayOutputStream();
        private Http2Headers headers;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws IOException {
            try {
                switch (msg) {
                    case Http2HeadersFrame frame when headers == null -> {
                        headers = frame.headers();
                        if (frame.isEndStream()) {
                            result.complete(new Exchange(headers, body.toByteArray(), null));
                        }
                    }
                    case Http2HeadersFrame frame -> result.complete(new Exchange(headers, body.toByteArray(),
                            frame.headers()));
                    case Http2DataFrame frame -> {
                        frame.content().readBytes(body, frame.content().readableBytes());
                        if (frame.isEndStream()) {
                            result.complete(new Exchange(headers, body.toByteArray(), null));
                        }
                    }
                    default -> {
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            result.completeExceptionally(cause);
        }
    }
}
