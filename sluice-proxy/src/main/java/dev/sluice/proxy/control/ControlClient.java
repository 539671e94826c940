package dev.sluice.proxy.control;

import dev.sluice.proxy.control.v1.AccessRecord;
import dev.sluice.proxy.control.v1.AgentPush;
import dev.sluice.proxy.control.v1.ProxyControlGrpc;
import dev.sluice.proxy.control.v1.ProxyHello;
import dev.sluice.proxy.control.v1.ProxyReport;
import dev.sluice.proxy.control.v1.ProxyStats;
import dev.sluice.proxy.control.v1.ReportAck;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.StreamObserver;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The proxy's side of the control channel to its agent (a unix domain socket): the session ({@code Attach}) whose
 * end makes the proxy exit, admission ({@link AgentAdmission}) and reports (counters, access records).
 */
public final class ControlClient implements AutoCloseable {
    /** How long a request waits for the agent's admission answer before it is refused. */
    static final Duration ADMIT_DEADLINE = Duration.ofSeconds(2);

    private final Path socket;
    private final EventLoopGroup loop;
    private final ManagedChannel channel;
    private final AgentAdmission admission;
    private StreamObserver<ProxyReport> reports;

    private ControlClient(Path socket) {
        this.socket = socket;
        // One thread: the channel carries a few messages a second and an admission question per new pair.
        this.loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        this.channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(loop).usePlaintext().build();
        var blocking = ProxyControlGrpc.newBlockingStub(channel);
        this.admission = new AgentAdmission(request -> blocking
                .withDeadlineAfter(ADMIT_DEADLINE.toMillis(), TimeUnit.MILLISECONDS).admit(request));
    }

    /** @param target {@code unix:PATH} (or {@code unix://PATH}) */
    public static ControlClient connect(String target) {
        if (!target.startsWith("unix:")) {
            throw new IllegalArgumentException("--control must be unix:PATH, got " + target);
        }
        return new ControlClient(Path.of(target.substring("unix:".length()).replaceFirst("^//", "")));
    }

    public Path socket() {
        return socket;
    }

    public AgentAdmission admission() {
        return admission;
    }

    /**
     * Opens the session. Policy revisions go to the admission cache; {@code ended} is told once, with why, when
     * the session ends for any reason.
     */
    public void attach(ProxyHello hello, Consumer<String> ended) {
        ProxyControlGrpc.newStub(channel).attach(hello, new StreamObserver<>() {
            @Override
            public void onNext(AgentPush push) {
                switch (push.getPushCase()) {
                    case POLICY -> admission.revision(push.getPolicy().getRevision());
                    case PUSH_NOT_SET -> { }
                }
            }

            @Override
            public void onError(Throwable t) {
                ended.accept("the control session with the agent failed: " + t.getMessage());
            }

            @Override
            public void onCompleted() {
                ended.accept("the agent ended the control session");
            }
        });
        reports = ProxyControlGrpc.newStub(channel).report(new StreamObserver<ReportAck>() {
            @Override
            public void onNext(ReportAck ack) {
            }

            @Override
            public void onError(Throwable t) {
                // The session's own end says the agent is gone; a lost report stream alone loses only reports.
            }

            @Override
            public void onCompleted() {
            }
        });
    }

    public synchronized void stats(ProxyStats stats) {
        if (reports != null) {
            reports.onNext(ProxyReport.newBuilder().setStats(stats).build());
        }
    }

    /** One request the proxy handled (the access-log hook's sink). */
    public synchronized void accessLog(AccessRecord record) {
        if (reports != null) {
            reports.onNext(ProxyReport.newBuilder().setAccess(record).build());
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
