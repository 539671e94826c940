package dev.sluice.observe.ui;

import dev.sluice.hubble.observer.ObserverGrpc;
import dev.sluice.observe.hubble.HubbleFilters;
import dev.sluice.observe.hubble.HubbleFlows;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.GetFlowsRequest;
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
 * Flows read over Hubble's Observer API ({@code observer.Observer/GetFlows}, as {@code sluice observe} reads them) from
 * each target given, and handed on as they come: every node's own socket (the node merge {@code sluice observe} does,
 * without its print-order window: the page orders rows by time itself), or one Hubble Relay, which merges the nodes
 * itself. A target whose stream fails (an agent or relay restarting, a socket not there yet) is asked again every
 * second; while following, only flows newer than the last one it delivered are asked for, so a reconnect repeats nothing.
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

    /**
     * Observe's request in Hubble's messages.
     *
     * @throws IllegalArgumentException for filters Hubble's messages cannot carry together
     */
    public static dev.sluice.hubble.observer.GetFlowsRequest hubble(GetFlowsRequest request) {
        var hubble = dev.sluice.hubble.observer.GetFlowsRequest.newBuilder().setNumber(request.getNumber()).setFollow(request.getFollow());
        if (request.hasSince()) {
            hubble.setSince(request.getSince());
        }
        if (request.hasUntil()) {
            hubble.setUntil(request.getUntil());
        }
        var allowed = HubbleFilters.toHubble(request.getWhitelistList());
        if (!request.getWhitelistList().isEmpty() && allowed.isEmpty()) {
            throw new IllegalArgumentException("the filter flags given can match no flow together");
        }
        return hubble.addAllWhitelist(allowed).addAllBlacklist(HubbleFilters.toHubble(request.getBlacklistList())).build();
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
                dev.sluice.hubble.observer.GetFlowsRequest next = hubble(request);
                String lastProblem = null;
                while (!cancel.isCancelled()) {
                    try {
                        Iterator<dev.sluice.hubble.observer.GetFlowsResponse> responses = ObserverGrpc.newBlockingStub(channel).getFlows(next);
                        while (responses.hasNext()) {
                            if (lastProblem != null) {
                                problems.accept(target + ": " + RECOVERED);
                                lastProblem = null;
                            }
                            dev.sluice.hubble.observer.GetFlowsResponse response = responses.next();
                            if (!response.hasFlow()) {
                                continue; // a relay's node status: which nodes answer is in `sluice status`
                            }
                            Flow flow = HubbleFlows.fromHubble(response.getFlow());
                            synchronized (deliver) {
                                flows.accept(flow);
                            }
                            if (request.getFollow()) {
                                // Resumed after the last delivered flow if the stream breaks: since is inclusive, so one nanosecond on.
                                com.google.protobuf.Timestamp t = flow.getTime();
                                next = hubble(request).toBuilder().setNumber(0)
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
