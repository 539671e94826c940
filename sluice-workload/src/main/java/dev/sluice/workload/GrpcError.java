package dev.sluice.workload;

import io.grpc.Status;

import java.nio.charset.StandardCharsets;

/** Ends a gRPC call with a status other than OK; the server sends it as a trailers-only response. */
final class GrpcError extends Exception {
    private final Status.Code code;

    GrpcError(Status.Code code, String description) {
        // No stack trace: this is an answer to the client, not a fault in the server.
        super(description, null, false, false);
        this.code = code;
    }

    Status.Code code() {
        return code;
    }

    /** The description as the grpc-message header carries it: percent-encoded outside printable ASCII. */
    String wireMessage() {
        StringBuilder out = new StringBuilder();
        for (byte b : getMessage().getBytes(StandardCharsets.UTF_8)) {
            if (b >= ' ' && b <= '~' && b != '%') {
                out.append((char) b);
            } else {
                out.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return out.toString();
    }
}
