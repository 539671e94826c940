package dev.sluice.agent.l7;

import dev.sluice.l7.route.Endpoint;
import dev.sluice.proxy.Admission;
import dev.sluice.proxy.control.ControlCodec;
import dev.sluice.proxy.control.v1.AdmitReply;
import dev.sluice.proxy.control.v1.AdmitRequest;
import dev.sluice.proxy.control.v1.AgentPush;
import dev.sluice.proxy.control.v1.PolicyRevision;
import dev.sluice.proxy.control.v1.ProxyControlGrpc;
import dev.sluice.proxy.control.v1.ProxyHello;
import dev.sluice.proxy.control.v1.ProxyReport;
import dev.sluice.proxy.control.v1.ProxyStats;
import dev.sluice.proxy.control.v1.ReportAck;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The agent's side of the control channel to its node's proxy process (gRPC on a unix domain socket, see
 * sluice-proxy's {@code control.proto}; the proxy's configuration comes over xDS, {@link XdsServer}): the proxy's
 * session, on which the agent pushes policy revisions; admission by network policy; the proxy's counters and
 * access records.
 */
public final class ProxyControlServer implements AutoCloseable {
    /** The proxy attached to this agent: its PID and when, or none. */
    public record Session(long pid, long sinceMs) {
    }

    private final Path socket;
    private final UnixSocketServer server;
    private volatile Admission admission;
    private final LongSupplier policyRevision;
    private volatile Consumer<dev.sluice.proxy.AccessRecord> accessLog = r -> { };
    private final LongAdder badRecords = new LongAdder();
    private final Object lock = new Object();
    private ServerCallStreamObserver<AgentPush> attached;
    private volatile Session session;
    private volatile ProxyStats stats = ProxyStats.getDefaultInstance();
    private final LongAdder admitted = new LongAdder();
    private final LongAdder accessRecords = new LongAdder();

    private ProxyControlServer(Path socket, Admission admission, LongSupplier policyRevision) {
        this.socket = socket;
        this.admission = admission;
        this.policyRevision = policyRevision;
        this.server = new UnixSocketServer(socket, "the proxy's control channel", new Service());
    }

    /**
     * @param admission      the agent's decision for a client and a backend (network policy by identity)
     * @param policyRevision the revision that decision is made at
     */
    public static ProxyControlServer start(Path socket, Admission admission, LongSupplier policyRevision) {
        return new ProxyControlServer(socket, admission, policyRevision);
    }

    public Path socket() {
        return socket;
    }

    public void admission(Admission admission) {
        this.admission = admission;
    }

    /** Where access records go (the agent's flows). */
    public void accessLog(Consumer<dev.sluice.proxy.AccessRecord> sink) {
        this.accessLog = sink;
    }

    /** The policy changed: the proxy drops the admission answers it cached. */
    public void policyRevision(long revision) {
        synchronized (lock) {
            push(AgentPush.newBuilder().setPolicy(PolicyRevision.newBuilder().setRevision(revision)).build());
        }
    }

    /** The attached proxy, if one is. */
    public Optional<Session> session() {
        return Optional.ofNullable(session);
    }

    /** The proxy's last report of its counters. */
    public ProxyStats stats() {
        return stats;
    }

    public long admitted() {
        return admitted.sum();
    }

    public long accessRecords() {
        return accessRecords.sum();
    }

    /** Access records that could not be read (dropped). */
    public long badRecords() {
        return badRecords.sum();
    }

    private void push(AgentPush message) {
        if (attached != null && !attached.isCancelled()) {
            try {
                attached.onNext(message);
            } catch (RuntimeException e) {
                // The session is ending; its cancellation handler clears it.
            }
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            if (attached != null && !attached.isCancelled()) {
                try {
                    attached.onCompleted();
                } catch (RuntimeException ignored) {
                    // already gone
                }
            }
        }
        server.close();
    }

    private final class Service extends ProxyControlGrpc.ProxyControlImplBase {
        @Override
        public void attach(ProxyHello hello, StreamObserver<AgentPush> responses) {
            var observer = (ServerCallStreamObserver<AgentPush>) responses;
            synchronized (lock) {
                // One proxy per node: a newer session replaces an older one (which then ends, and its proxy exits).
                if (attached != null && !attached.isCancelled()) {
                    try {
                        attached.onCompleted();
                    } catch (RuntimeException ignored) {
                        // already gone
                    }
                }
                attached = observer;
                Session mine = new Session(hello.getPid(), System.currentTimeMillis());
                session = mine;
                stats = ProxyStats.getDefaultInstance();
                observer.setOnCancelHandler(() -> {
                    synchronized (lock) {
                        if (attached == observer) {
                            attached = null;
                            session = null;
                        }
                    }
                });
                System.out.println("agent: L7 proxy PID " + hello.getPid() + " attached on " + socket);
                push(AgentPush.newBuilder().setPolicy(PolicyRevision.newBuilder().setRevision(policyRevision.getAsLong())).build());
            }
        }

        @Override
        public void admit(AdmitRequest request, StreamObserver<AdmitReply> responses) {
            // The revision is read before deciding: if policy changes meanwhile, the answer carries the older
            // revision, and the proxy, which hears of the newer one, does not keep it.
            long revision = policyRevision.getAsLong();
            AdmitReply reply;
            try {
                reply = ControlCodec.reply(admission.decide(new InetSocketAddress(request.getClientIp(), request.getClientPort()),
                        new Endpoint(request.getBackendIp(), request.getBackendPort(), ""))).setRevision(revision).build();
            } catch (RuntimeException e) {
                // Bad input (an unparsable address) or a failed decision: refused, with why.
                reply = AdmitReply.newBuilder().setAllowed(false).setReason("the agent could not decide: " + e.getMessage())
                        .setRevision(revision).build();
            }
            admitted.increment();
            responses.onNext(reply);
            responses.onCompleted();
        }

        @Override
        public StreamObserver<ProxyReport> report(StreamObserver<ReportAck> responses) {
            return new StreamObserver<>() {
                @Override
                public void onNext(ProxyReport report) {
                    switch (report.getReportCase()) {
                        case STATS -> stats = report.getStats();
                        case ACCESS -> {
                            accessRecords.increment();
                            try {
                                accessLog.accept(ControlCodec.record(report.getAccess()));
                            } catch (RuntimeException e) {
                                // A record the agent cannot read is dropped and counted, never fatal to the stream.
                                badRecords.increment();
                            }
                        }
                        case REPORT_NOT_SET -> { }
                    }
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    responses.onNext(ReportAck.getDefaultInstance());
                    responses.onCompleted();
                }
            };
        }
    }
}
