package dev.sluice.workload;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.AsciiString;

import java.io.IOException;
import java.util.List;

/**
 * Reads the first bytes of a connection and sets up its pipeline: the HTTP/2 connection preface means h2c with
 * prior knowledge (how gRPC clients connect); anything else is HTTP/1.x, which may still upgrade to h2c.
 */
final class ProtocolDetector extends ByteToMessageDecoder {
    private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
    /** Bounds the one request of an h2c upgrade, which is read whole before the switch. */
    private static final int MAX_UPGRADE_REQUEST = 64 * 1024;

    private final EchoJson json;
    private final GrpcEchoService grpc;

    ProtocolDetector(EchoJson json, GrpcEchoService grpc) {
        this.json = json;
        this.grpc = grpc;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        int seen = Math.min(in.readableBytes(), PREFACE.readableBytes());
        boolean prefaceSoFar = ByteBufUtil.equals(PREFACE, PREFACE.readerIndex(), in, in.readerIndex(), seen);
        if (!prefaceSoFar) {
            addHttp1(ctx.pipeline());
        } else if (seen == PREFACE.readableBytes()) {
            addHttp2(ctx.pipeline());
        } else {
            return;
        }
        // This detector is the only handler, so the handlers above came right after it; removing it hands
        // them the bytes read so far.
        ctx.pipeline().remove(this);
    }

    private void addHttp1(ChannelPipeline pipeline) {
        HttpServerCodec codec = new HttpServerCodec();
        HttpServerUpgradeHandler upgrade = new HttpServerUpgradeHandler(codec, protocol ->
                AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                        ? new Http2ServerUpgradeCodec(Http2FrameCodecBuilder.forServer().build(), streams())
                        : null,
                MAX_UPGRADE_REQUEST);
        pipeline.addLast(codec, upgrade, new HttpServerExpectContinueHandler(), new Http1EchoHandler(json),
                CloseOnError.INSTANCE);
    }

    private void addHttp2(ChannelPipeline pipeline) {
        pipeline.addLast(Http2FrameCodecBuilder.forServer().build(), streams(), CloseOnError.INSTANCE);
    }

    /** Gives each HTTP/2 stream a channel of its own, answered by its own handler. */
    private Http2MultiplexHandler streams() {
        return new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
            @Override
            protected void initChannel(Http2StreamChannel stream) {
                stream.pipeline().addLast(new Http2EchoStreamHandler(json, grpc));
            }
        });
    }

    /** Ends every connection's pipeline: an I/O error, usually a reset by the client, just closes it. */
    @ChannelHandler.Sharable
    private static final class CloseOnError extends ChannelInboundHandlerAdapter {
        static final CloseOnError INSTANCE = new CloseOnError();

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!(cause instanceof IOException)) {
                ctx.fireExceptionCaught(cause); // a bug: let Netty log it
            }
            ctx.close();
        }
    }
}
