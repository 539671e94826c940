package dev.sluice.observe.ui;

import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.GetFlowsRequest;
import dev.sluice.observe.v1.GetFlowsResponse;
import dev.sluice.observe.v1.ObserverGrpc;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Flows of every node, read from each node's own Observer API (its unix socket) and handed on as they come: the
 * merge {@code sluice observe} does, without its print-order window (the page orders rows by time itself). A node
 * whose stream fails (an agent restarting, a socket not there yet) is asked again every second; while following,
 * only flows newer than the last one it delivered are asked for, so a reconnect repeats nothing.
 */
public final class NodeMergeFlowSource implements FlowSource {
    private static final long RETRY_MS = 1_000;
    /** What {@code problems} hears, after the target, once a node that failed delivers flows again. */
    public static final String RECOVERED = "reading again";
    /** grpc-java asks a unix socket for SO_KEEPALIVE and Netty warns once a connection; held, as loggers are weakly kept. */
    private static final java.util.logging.Logger NETTY_BOOTSTRAP = quiet("io.grpc.netty.shaded.io.netty.bootstrap");

    private static java.util.logging.Logger quiet(String name) {
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
        logger.setLevel(java.util.logging.Level.SEVERE);
        return logger;
    }

    /** The nodes' Observer API targets ({@code unix:///path}), asked again on every subscription (a lab may gain nodes). */
    private final Supplier<List<String>> targets;

    public NodeMergeFlowSource(Supplier<List<String>> targets) {
        this.targets = targets;
    }

    @Override
    public Subscription subscribe(GetFlowsRequest request, Consumer<Flow> flows, Consumer<String> problems) {
        Object deliver = new Object();
        List<Thread> readers = new ArrayList<>();
        List<ManagedChannel> channels = new ArrayList<>();
        Context.CancellableContext cancel = Context.current().withCancellation();
        for (String target : targets.get()) {
            ManagedChannel channel = Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build();
            channels.add(channel);
            readers.add(Thread.ofVirtual().name("ui-flows-" + target).start(() -> cancel.run(() -> {
                GetFlowsRequest next = request;
                String lastProblem = null;
                while (!cancel.isCancelled()) {
                    try {
                        Iterator<GetFlowsResponse> responses = ObserverGrpc.newBlockingStub(channel).getFlows(next);
                        while (responses.hasNext()) {
                            if (lastProblem != null) {
                                problems.accept(target + ": " + RECOVERED);
                                lastProblem = null;
                            }
                            Flow flow = responses.next().getFlow();
                            synchronized (deliver) {
                                flows.accept(flow);
                            }
                            if (request.getFollow()) {
                                // Resumed after the last delivered flow if the stream breaks: since is inclusive, so one nanosecond on.
                                com.google.protobuf.Timestamp t = flow.getTime();
                                next = request.toBuilder().setNumber(0)
                                        .setSince(t.getNanos() == 999_999_999 ? t.toBuilder().setSeconds(t.getSeconds() + 1).setNanos(0).build()
                                                : t.toBuilder().setNanos(t.getNanos() + 1).build())
                                        .build();
                            }
                        }
                        if (!request.getFollow()) {
                            return;
                        }
                    } catch (StatusRuntimeException e) {
                        if (cancel.isCancelled()) {
                            return;
                        }
                        String problem = target + ": " + e.getStatus().getCode()
                                + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription());
                        if (!problem.equals(lastProblem)) {
                            problems.accept(problem);
                            lastProblem = problem;
                        }
                        if (!request.getFollow()) {
                            return;
                        }
                    }
                    try {
                        Thread.sleep(RETRY_MS);
                    } catch (InterruptedException e) {
                        return;
                    }
                    // gRPC's own reconnect back-off grows to two minutes; a node's agent comes back in seconds.
                    channel.resetConnectBackoff();
                }
            })));
        }
        return () -> {
            cancel.cancel(null);
            readers.forEach(Thread::interrupt);
            for (ManagedChannel channel : channels) {
                channel.shutdownNow();
                try {
                    channel.awaitTermination(2, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
    }
}
