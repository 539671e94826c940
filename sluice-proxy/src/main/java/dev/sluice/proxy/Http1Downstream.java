package dev.sluice.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * An HTTP/1.1 client connection: each request becomes an {@link Exchange} in HTTP/2 terms (the backend is spoken
 * to in HTTP/2), its response is written back in HTTP/1.1, chunked unless the backend gave a length. One request
 * at a time: the next is read once the response is complete.
 */
final class Http1Downstream extends ChannelInboundHandlerAdapter implements Downstream {
    private final ProxyContext proxy;
    private ChannelHandlerContext ctx;
    private Exchange exchange;
    private boolean keepAlive;
    private boolean responseStarted;
    private boolean requestHasBody;
    private boolean requestComplete;
    private boolean responseComplete;

    Http1Downstream(ProxyContext proxy) {
        this.proxy = proxy;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof io.netty.handler.codec.http.HttpServerUpgradeHandler.UpgradeEvent) {
            // Upgraded to h2c: the connection's requests are HTTP/2 streams from now on (Http2Downstream).
            ctx.pipeline().remove(this);
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest request) {
            keepAlive = HttpUtil.isKeepAlive(request);
            responseStarted = false;
            responseComplete = false;
            requestComplete = false;
            requestHasBody = HttpUtil.isTransferEncodingChunked(request) || HttpUtil.getContentLength(request, 0L) > 0;
            Http2Headers headers;
            try {
                if (!request.headers().contains(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text())) {
                    request.headers().set(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(), "http");
                }
                headers = HttpConversionUtil.toHttp2Headers(request, false);
            } catch (RuntimeException e) {
                ReferenceCountUtil.release(msg);
                byte[] body = ("sluice proxy: bad request: " + e.getMessage() + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
                var response = new io.netty.handler.codec.http.DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                        io.netty.handler.codec.http.HttpResponseStatus.BAD_REQUEST, io.netty.buffer.Unpooled.wrappedBuffer(body));
                response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            if (headers.scheme() == null) {
                headers.scheme("http");
            }
            if (headers.authority() == null) {
                headers.authority("");
            }
            if (request.method() == HttpMethod.CONNECT) {
                ReferenceCountUtil.release(msg);
                ctx.close();
                return;
            }
            exchange = new Exchange(proxy, this);
            exchange.requestHeaders(headers, !requestHasBody);
        }
        if (msg instanceof HttpContent content) {
            boolean last = content instanceof LastHttpContent;
            if (exchange == null) {
                content.release();
                return;
            }
            if (requestHasBody) {
                if (last && !((LastHttpContent) content).trailingHeaders().isEmpty()) {
                    exchange.requestData(content.content(), false);
                    Http2Headers trailers = new DefaultHttp2Headers();
                    ((LastHttpContent) content).trailingHeaders().forEach(e -> trailers.add(e.getKey().toLowerCase(), e.getValue()));
                    exchange.requestTrailers(trailers);
                } else {
                    exchange.requestData(content.content(), last);
                }
            } else {
                content.release();
            }
            if (last) {
                requestComplete = true;
                ctx.channel().config().setAutoRead(false); // one request at a time
                maybeNext();
            }
        }
    }

    private void maybeNext() {
        if (requestComplete && responseComplete) {
            exchange = null;
            if (keepAlive) {
                ctx.channel().config().setAutoRead(true);
                ctx.read();
            }
        }
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
        return ctx.channel().remoteAddress();
    }

    @Override
    public String protocol() {
        return "HTTP/1.1";
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
        if (!responseStarted) {
            responseStarted = true;
            HttpResponse response;
            try {
                response = HttpConversionUtil.toHttpResponse(0, headers, false);
            } catch (Http2Exception e) {
                reset(Http2Error.PROTOCOL_ERROR);
                return;
            }
            response.headers().remove(HttpConversionUtil.ExtensionHeaderNames.STREAM_ID.text());
            response.setProtocolVersion(HttpVersion.HTTP_1_1);
            if (endStream) {
                if (!response.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
                    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
                }
                ctx.write(response);
                end(new DefaultLastHttpContent());
            } else {
                if (!response.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
                    HttpUtil.setTransferEncodingChunked(response, true);
                }
                HttpUtil.setKeepAlive(response, keepAlive);
                ctx.writeAndFlush(response);
            }
        } else {
            LastHttpContent last = new DefaultLastHttpContent();
            headers.forEach(e -> {
                if (e.getKey().charAt(0) != ':') {
                    last.trailingHeaders().add(e.getKey(), e.getValue());
                }
            });
            end(last);
        }
    }

    @Override
    public void data(ByteBuf data, boolean endStream) {
        if (endStream) {
            end(new DefaultLastHttpContent(data));
        } else {
            ctx.writeAndFlush(new DefaultHttpContent(data));
        }
    }

    private void end(LastHttpContent last) {
        var written = ctx.writeAndFlush(last);
        responseComplete = true;
        if (!keepAlive) {
            written.addListener(ChannelFutureListener.CLOSE);
        } else {
            maybeNext();
        }
    }

    @Override
    public void reset(Http2Error error) {
        ctx.close();
    }

    @Override
    public void readable(boolean on) {
        if (!requestComplete) {
            ctx.channel().config().setAutoRead(on);
        }
    }
}
