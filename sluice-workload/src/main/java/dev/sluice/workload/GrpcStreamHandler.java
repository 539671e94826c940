package dev.sluice.workload;

import dev.sluice.workload.echo.v1.CountRequest;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.Numbered;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpHeaderNames;
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
 * The echo workload's streaming gRPC methods on one HTTP/2 stream: {@code Count} (a server stream of numbered
 * messages) and {@code Chat} (each message echoed back as it arrives). Writes follow the stream's writability,
 * which HTTP/2 flow control drives, and Chat stops reading while it cannot write: a slow reader holds this
 * server (and whatever stands between) back instead of making anyone buffer without bound.
 */
final class GrpcStreamHandler extends ChannelInboundHandlerAdapter {
    static final String COUNT = "/" + EchoGrpc.SERVICE_NAME + "/Count";
    static final String CHAT = "/" + EchoGrpc.SERVICE_NAME + "/Chat";
    /** Count's largest message and count: a stream a client asks for must not exhaust the pod. */
    static final int MAX_SIZE = 1024 * 1024;

    private final String pod;
    private String method;
    /** Inbound bytes not yet a whole gRPC message. */
    private CompositeByteBuf inbound;
    private boolean headersSent;
    private boolean finished;
    /** Count: how many messages to send, how many are sent, and of what size. */
    private long toSend;
    private long sent;
    private ByteString payload = ByteString.EMPTY;

    GrpcStreamHandler(String pod) {
        this.pod = pod;
    }

    static boolean handles(CharSequence path) {
        String p = Objects.toString(path, "");
        return p.equals(COUNT) || p.equals(CHAT);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (finished) {
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            switch (msg) {
                case Http2HeadersFrame headers -> {
                    if (method == null) {
                        method = Objects.toString(headers.headers().path(), "");
                        inbound = ctx.alloc().compositeBuffer();
                        if (method.equals(CHAT)) {
                            sendHeaders(ctx);
                            ctx.flush();
                        }
                    }
                    if (headers.isEndStream()) {
                        requestEnded(ctx);
                    }
                }
                case Http2DataFrame data -> {
                    inbound.addComponent(true, data.content().retain());
                    messages(ctx);
                    if (data.isEndStream()) {
                        requestEnded(ctx);
                    }
                }
                default -> {
                }
            }
        } catch (GrpcError e) {
            fail(ctx, e);
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Takes the whole messages received so far: Chat echoes each at once; Count waits for the request's end. */
    private void messages(ChannelHandlerContext ctx) throws GrpcError {
        if (!method.equals(CHAT)) {
            if (inbound.readableBytes() > MAX_SIZE) {
                throw new GrpcError(Status.Code.RESOURCE_EXHAUSTED, "request larger than " + MAX_SIZE + " bytes");
            }
            return;
        }
        boolean wrote = false;
        while (inbound.readableBytes() >= GrpcFrames.HEADER_LENGTH) {
            int length = inbound.getInt(inbound.readerIndex() + 1);
            if (length > MAX_SIZE) {
                throw new GrpcError(Status.Code.RESOURCE_EXHAUSTED, "message larger than " + MAX_SIZE + " bytes");
            }
            if (inbound.readableBytes() < GrpcFrames.HEADER_LENGTH + length) {
                break;
            }
            if (inbound.readByte() != 0) {
                throw new GrpcError(Status.Code.UNIMPLEMENTED, "compressed messages are not supported");
            }
            inbound.readInt();
            Numbered in = parse(inbound.readSlice(length));
            ctx.write(new DefaultHttp2DataFrame(GrpcFrames.frame(ctx.alloc(), in.toBuilder().setPod(pod).build())));
            wrote = true;
        }
        inbound.discardReadComponents();
        if (wrote) {
            ctx.flush();
        }
        // Not writable: the client reads slower than it sends. Stop reading, so that the stream's window is not
        // given back and HTTP/2 flow control holds the sender, rather than queueing replies here.
        if (!ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    private static Numbered parse(ByteBuf bytes) throws GrpcError {
        try {
            return Numbered.parseFrom(bytes.nioBuffer());
        } catch (InvalidProtocolBufferException e) {
            throw new GrpcError(Status.Code.INTERNAL, "cannot parse a message: " + e.getMessage());
        }
    }

    private void requestEnded(ChannelHandlerContext ctx) throws GrpcError {
        if (method.equals(CHAT)) {
            finish(ctx);
            return;
        }
        CountRequest request;
        try {
            request = CountRequest.parseFrom(GrpcFrames.single(inbound).nioBuffer());
        } catch (InvalidProtocolBufferException e) {
            throw new GrpcError(Status.Code.INTERNAL, "cannot parse the request: " + e.getMessage());
        }
        if (request.getSize() < 0 || request.getSize() > MAX_SIZE || request.getCount() < 0) {
            throw new GrpcError(Status.Code.INVALID_ARGUMENT, "count must be >= 0 and size within 0.." + MAX_SIZE);
        }
        toSend = request.getCount();
        payload = ByteString.copyFrom(new byte[request.getSize()]);
        sendHeaders(ctx);
        pump(ctx);
    }

    /** Count: writes while the stream can take more (its flow-control window and Netty's buffer), then waits. */
    private void pump(ChannelHandlerContext ctx) {
        while (sent < toSend && ctx.channel().isWritable()) {
            ctx.write(new DefaultHttp2DataFrame(GrpcFrames.frame(ctx.alloc(),
                    Numbered.newBuilder().setSeq(sent).setPayload(payload).setPod(pod).build())));
            sent++;
        }
        ctx.flush();
        if (sent == toSend) {
            finish(ctx);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && !finished) {
            if (method != null && method.equals(CHAT)) {
                ctx.channel().config().setAutoRead(true);
                ctx.read();
            } else if (toSend > 0) {
                pump(ctx);
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    private void sendHeaders(ChannelHandlerContext ctx) {
        if (!headersSent) {
            headersSent = true;
            ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status(HttpResponseStatus.OK.codeAsText())
                    .set(HttpHeaderNames.CONTENT_TYPE, "application/grpc")));
        }
    }

    private void finish(ChannelHandlerContext ctx) {
        finished = true;
        sendHeaders(ctx);
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().setInt("grpc-status", Status.Code.OK.value()), true));
    }

    private void fail(ChannelHandlerContext ctx, GrpcError error) {
        finished = true;
        Http2Headers trailers = new DefaultHttp2Headers().setInt("grpc-status", error.code().value()).set("grpc-message", error.wireMessage());
        if (!headersSent) {
            headersSent = true;
            trailers.status(HttpResponseStatus.OK.codeAsText()).set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
        }
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(trailers, true));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (inbound != null) {
            inbound.release();
            inbound = null;
        }
        ctx.fireChannelInactive();
    }
}
