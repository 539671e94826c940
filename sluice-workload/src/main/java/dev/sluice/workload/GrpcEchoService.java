package dev.sluice.workload;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingReply;
import dev.sluice.workload.echo.v1.PingRequest;
import dev.sluice.workload.health.v1.HealthCheckRequest;
import dev.sluice.workload.health.v1.HealthCheckResponse;
import dev.sluice.workload.health.v1.HealthGrpc;
import io.grpc.Status;
import io.netty.buffer.ByteBuf;

import java.util.Set;

/**
 * The unary gRPC methods of the echo workload: {@code sluice.echo.v1.Echo/Ping} and
 * {@code grpc.health.v1.Health/Check}. Hand-written because grpc-java's server cannot share a port with HTTP/1.1.
 */
final class GrpcEchoService {
    private static final String PING = "/" + EchoGrpc.SERVICE_NAME + "/Ping";
    private static final String HEALTH_CHECK = "/" + HealthGrpc.SERVICE_NAME + "/Check";
    /** "" asks about the whole server; the others are the services it offers. */
    private static final Set<String> SERVING = Set.of("", EchoGrpc.SERVICE_NAME, HealthGrpc.SERVICE_NAME);

    /**
     * A pod label that makes Ping fail with the gRPC status it names (e.g. {@code UNAVAILABLE}): a backend answering
     * errors on purpose, so that lab tests can show outlier detection eject it. Only Ping; health checks still pass.
     */
    static final String FAIL_LABEL = "echo.sluice.dev/fail";

    private final PingReply identity;
    private final Status.Code failWith;

    GrpcEchoService(Identity identity) {
        String fail = identity.labels().get(FAIL_LABEL);
        Status.Code code = null;
        if (fail != null) {
            try {
                code = Status.Code.valueOf(fail);
            } catch (IllegalArgumentException e) {
                // An unknown status name: fail with INTERNAL, naming the label, rather than serve as if unlabelled.
                code = Status.Code.INTERNAL;
            }
        }
        this.failWith = code;
        this.identity = PingReply.newBuilder()
                .setPod(identity.pod())
                .setNamespace(identity.namespace())
                .setNode(identity.node())
                .setVersion(identity.version())
                .putAllLabels(identity.labels())
                .build();
    }

    /** The pod this service answers for, which the streaming methods put in their messages. */
    String pod() {
        return identity.getPod();
    }

    /** Answers a call to {@code path} (":path", e.g. "/sluice.echo.v1.Echo/Ping") with a framed request body. */
    MessageLite call(String path, ByteBuf framedRequest) throws GrpcError {
        return switch (path) {
            case PING -> ping(parse(PingRequest.parser(), framedRequest));
            case HEALTH_CHECK -> check(parse(HealthCheckRequest.parser(), framedRequest));
            default -> throw new GrpcError(Status.Code.UNIMPLEMENTED, "unknown method " + path);
        };
    }

    private PingReply ping(PingRequest request) throws GrpcError {
        if (failWith != null) {
            throw new GrpcError(failWith, "pod " + identity.getPod() + " fails every Ping (label " + FAIL_LABEL + ")");
        }
        return identity.toBuilder().setMessage(request.getMessage()).build();
    }

    private static HealthCheckResponse check(HealthCheckRequest request) throws GrpcError {
        if (!SERVING.contains(request.getService())) {
            throw new GrpcError(Status.Code.NOT_FOUND, "unknown service " + request.getService());
        }
        return HealthCheckResponse.newBuilder().setStatus(HealthCheckResponse.ServingStatus.SERVING).build();
    }

    private static <T> T parse(Parser<T> parser, ByteBuf framedRequest) throws GrpcError {
        try {
            return parser.parseFrom(GrpcFrames.single(framedRequest).nioBuffer());
        } catch (InvalidProtocolBufferException e) {
            throw new GrpcError(Status.Code.INTERNAL, "cannot parse the request: " + e.getMessage());
        }
    }
}
