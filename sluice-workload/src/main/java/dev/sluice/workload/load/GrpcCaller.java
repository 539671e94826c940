package dev.sluice.workload.load;

import com.google.protobuf.MessageLite;
import dev.sluice.workload.echo.v1.EchoGrpc;
import dev.sluice.workload.echo.v1.PingRequest;
import dev.sluice.workload.health.v1.HealthCheckRequest;
import dev.sluice.workload.health.v1.HealthCheckResponse;
import dev.sluice.workload.health.v1.HealthGrpc;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * gRPC calls over h2c, one {@link ManagedChannel} (so one HTTP/2 connection) per load connection, as fortio's
 * gRPC runner has a connection per thread. All channels share a small Netty event loop group and run callbacks on
 * it directly: no thread per connection or request.
 */
final class GrpcCaller implements Caller {
    private final EventLoopGroup group;
    private final ManagedChannel[] channels;
    private final Duration timeout;
    private final Call<?, ?> call;

    /** The method and request of every call, and what a reply means. */
    private record Call<Q extends MessageLite, R>(MethodDescriptor<Q, R> method, Q request,
                                                  java.util.function.Function<R, Outcome> outcome) {
        void start(ManagedChannel channel, CallOptions options, Consumer<Outcome> done) {
            ClientCalls.asyncUnaryCall(channel.newCall(method, options), request, new StreamObserver<R>() {
                private Outcome result;

                @Override
                public void onNext(R reply) {
                    result = outcome.apply(reply);
                }

                @Override
                public void onError(Throwable t) {
                    Status status = Status.fromThrowable(t);
                    done.accept(Outcome.failure(status.getCode().name(), status.getCode() + ": " + status.getDescription()));
                }

                @Override
                public void onCompleted() {
                    done.accept(result != null ? result : Outcome.failure("INTERNAL", "INTERNAL: no reply message"));
                }
            });
        }
    }

    GrpcCaller(LoadSpec.Grpc target, int connections, Duration timeout, int eventLoopThreads) {
        this.timeout = timeout;
        this.call = target.ping()
                ? new Call<>(EchoGrpc.getPingMethod(),
                        PingRequest.newBuilder().setMessage("x".repeat(target.payloadSize())).build(),
                        reply -> Outcome.success("OK"))
                : new Call<>(HealthGrpc.getCheckMethod(), HealthCheckRequest.getDefaultInstance(),
                        (HealthCheckResponse reply) -> reply.getStatus() == HealthCheckResponse.ServingStatus.SERVING
                                ? Outcome.success(reply.getStatus().name())
                                : Outcome.failure(reply.getStatus().name(), "health status " + reply.getStatus()));
        this.group = new MultiThreadIoEventLoopGroup(eventLoopThreads, NioIoHandler.newFactory());
        this.channels = new ManagedChannel[connections];
        for (int c = 0; c < connections; c++) {
            channels[c] = NettyChannelBuilder.forAddress(target.host(), target.port())
                    .usePlaintext()
                    .eventLoopGroup(group)
                    .channelType(NioSocketChannel.class)
                    // Callbacks on the event loop: they only record and arm a timer.
                    .directExecutor()
                    // A failed call is a measured error, not something to retry behind the measurement.
                    .disableRetry()
                    .proxyDetector(address -> null)
                    .build();
        }
    }

    @Override
    public void call(int connection, Consumer<Outcome> done) {
        call.start(channels[connection], CallOptions.DEFAULT.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS), done);
    }

    @Override
    public void close() {
        for (ManagedChannel channel : channels) {
            channel.shutdownNow();
        }
        for (ManagedChannel channel : channels) {
            try {
                channel.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
