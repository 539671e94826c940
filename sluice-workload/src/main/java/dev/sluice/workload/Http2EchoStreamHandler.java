package dev.sluice.workload;

import com.google.protobuf.MessageLite;
import io.grpc.Status;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;

import java.util.Objects;

/**
 * Answers one HTTP/2 stream: a gRPC call ({@code content-type: application/grpc...}) through
 * {@link GrpcEchoService}, any other request with the identity as JSON.
 */
final class Http2EchoStreamHandler extends ChannelInboundHandlerAdapter {
    private static final String GRPC = "application/grpc";
    /** grpc-java's default limit for one inbound message. */
    private static final int MAX_GRPC_BODY = 4 * 1024 * 1024 + GrpcFrames.HEADER_LENGTH;

    private final EchoJson json;
    private final GrpcEchoService grpc;
    private Http2Headers request;
    /** The request body of a gRPC call so far; null for plain requests, whose body is not needed. */
    private CompositeByteBuf grpcBody;
    /** Set once the response is sent; frames that still arrive for the stream are dropped. */
    private boolean answered;

    Http2EchoStreamHandler(EchoJson json, GrpcEchoService grpc) {
        this.json = json;
        this.grpc = grpc;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (answered) {
            ReferenceCountUtil.release(msg);
            return;
        }
        switch (msg) {
            case Http2HeadersFrame headers -> {
                // A second HEADERS frame carries the request's trailers, which no method here reads.
                if (request == null && isGrpc(headers.headers()) && GrpcStreamHandler.handles(headers.headers().path())) {
                    // A streaming method: its own handler takes the stream, from this first frame on.
                    ctx.pipeline().replace(this, "grpc-stream", new GrpcStreamHandler(grpc.pod()));
                    ctx.pipeline().fireChannelRead(msg);
                    return;
                }
                if (request == null) {
                    request = headers.headers();
                    if (isGrpc(request)) {
                        grpcBody = ctx.alloc().compositeBuffer();
                    }
                }
                if (headers.isEndStream()) {
                    respond(ctx);
                }
            }
            case Http2DataFrame data -> {
                if (grpcBody != null) {
                    grpcBody.addComponent(true, data.content().retain());
                }
                data.release();
                if (grpcBody != null && grpcBody.readableBytes() > MAX_GRPC_BODY) {
                    answered = true;
                    // Closing the stream's channel resets the stream, so the client stops sending.
                    writeGrpcError(ctx, new GrpcError(Status.Code.RESOURCE_EXHAUSTED, "request larger than "
                            + MAX_GRPC_BODY + " bytes")).addListener(ChannelFutureListener.CLOSE);
                } else if (data.isEndStream()) {
                    respond(ctx);
                }
            }
            default -> ReferenceCountUtil.release(msg);
        }
    }

    private static boolean isGrpc(Http2Headers headers) {
        String type = Objects.toString(headers.get(HttpHeaderNames.CONTENT_TYPE), "");
        return type.equals(GRPC) || type.startsWith(GRPC + "+") || type.startsWith(GRPC + ";");
    }

    private void respond(ChannelHandlerContext ctx) {
        answered = true;
        if (grpcBody != null) {
            respondGrpc(ctx);
        } else {
            respondJson(ctx);
        }
    }

    private void respondGrpc(ChannelHandlerContext ctx) {
        try {
            MessageLite reply = grpc.call(Objects.toString(request.path(), ""), grpcBody);
            ctx.write(new DefaultHttp2HeadersFrame(grpcHeaders()));
            ctx.write(new DefaultHttp2DataFrame(GrpcFrames.frame(ctx.alloc(), reply)));
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(
                    new DefaultHttp2Headers().setInt("grpc-status", Status.Code.OK.value()), true));
        } catch (GrpcError e) {
            writeGrpcError(ctx, e);
        }
    }

    private ChannelFuture writeGrpcError(ChannelHandlerContext ctx, GrpcError error) {
        Http2Headers trailersOnly = grpcHeaders()
                .setInt("grpc-status", error.code().value())
                .set("grpc-message", error.wireMessage());
        return ctx.writeAndFlush(new DefaultHttp2HeadersFrame(trailersOnly, true));
    }

    private static Http2Headers grpcHeaders() {
        return new DefaultHttp2Headers()
                .status(HttpResponseStatus.OK.codeAsText())
                .set(HttpHeaderNames.CONTENT_TYPE, GRPC);
    }

    private void respondJson(ChannelHandlerContext ctx) {
        String method = Objects.toString(request.method(), "");
        byte[] body = json.render("h2c", method, Objects.toString(request.path(), ""));
        Http2Headers headers = new DefaultHttp2Headers()
                .status(HttpResponseStatus.OK.codeAsText())
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        if (HttpMethod.HEAD.name().equals(method)) {
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(headers, true));
            return;
        }
        ctx.write(new DefaultHttp2HeadersFrame(headers));
        ctx.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), true));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Closing the stream's channel resets only this stream; the connection and its other streams go on.
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (grpcBody != null) {
            grpcBody.release();
            grpcBody = null;
        }
        ctx.fireChannelInactive();
    }
}
