package dev.sluice.workload;

import com.google.protobuf.MessageLite;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/** gRPC's message framing: a compressed-flag byte and a 4-byte big-endian length before each message. */
final class GrpcFrames {
    static final int HEADER_LENGTH = 5;

    private GrpcFrames() {
    }

    static ByteBuf frame(ByteBufAllocator alloc, MessageLite message) {
        byte[] bytes = message.toByteArray();
        return alloc.buffer(HEADER_LENGTH + bytes.length)
                .writeByte(0)
                .writeInt(bytes.length)
                .writeBytes(bytes);
    }

    /** The one message a unary request carries. */
    static ByteBuf single(ByteBuf body) throws GrpcError {
        if (body.readableBytes() < HEADER_LENGTH) {
            throw new GrpcError(Status.Code.INTERNAL, "the request carries no message");
        }
        boolean compressed = body.readByte() != 0;
        int length = body.readInt();
        if (compressed) {
            // We announce no grpc-accept-encoding, so clients have no reason to compress.
            throw new GrpcError(Status.Code.UNIMPLEMENTED, "compressed messages are not supported");
        }
        if (length != body.readableBytes()) {
            throw new GrpcError(Status.Code.INTERNAL, "a unary request carries exactly one message");
        }
        return body.readSlice(length);
    }
}
