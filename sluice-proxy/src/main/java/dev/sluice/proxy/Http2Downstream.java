package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/** One HTTP/2 stream from a client (a child channel of the client's connection): one {@link Exchange}. */
final class Http2Downstream extends ChannelInboundHandlerAdapter implements Downstream {
    private final ProxyContext proxy;
    private ChannelHandlerContext ctx;
    private Exchange exchange;

    Http2Downstream(ProxyContext proxy) {
        this.proxy = proxy;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2HeadersFrame h) {
            if (exchange == null) {
                exchange = new Exchange(proxy, this);
                exchange.requestHeaders(h.headers(), h.isEndStream());
            } else {
                exchange.requestTrailers(h.headers());
            }
        } else if (msg instanceof Http2DataFrame d && exchange != null) {
            exchange.requestData(d.content(), d.isEndStream());
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame && exchange != null) {
            exchange.downstreamReset();
        }
        ReferenceCountUtil.release(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.downstreamReset();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.downstreamWritable(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public java.net.SocketAddress remote() {
        // A stream's channel is a child of the connection's, which has the peer.
        var channel = ctx.channel();
        return channel.parent() != null ? channel.parent().remoteAddress() : channel.remoteAddress();
    }

    @Override
    public String protocol() {
        return "HTTP/2";
    }

    @Override
    public String serviceKey() {
        return ProxyServer.serviceKey(ctx.channel());
    }

    @Override
    public EventLoop eventLoop() {
        return ctx.channel().eventLoop();
    }

    @Override
    public void headers(Http2Headers headers, boolean endStream) {
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(headers, endStream));
    }

    @Override
    public void data(ByteBuf data, boolean endStream) {
        ctx.writeAndFlush(new DefaultHttp2DataFrame(data, endStream));
    }

    @Override
    public void reset(Http2Error error) {
        ctx.writeAndFlush(new DefaultHttp2ResetFrame(error));
    }

    @Override
    public void readable(boolean on) {
        ctx.channel().config().setAutoRead(on);
    }
}
