package dev.sluice.observe;

import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Timestamps;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.GetFlowsRequest;
import dev.sluice.observe.v1.GetFlowsResponse;
import dev.sluice.observe.v1.ObserverGrpc;
import dev.sluice.observe.v1.ServerStatusRequest;
import dev.sluice.observe.v1.ServerStatusResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

/** The Observer API over one node's {@link FlowRing}. */
final class ObserverService extends ObserverGrpc.ObserverImplBase {
    /** {@code hubble observe} without --last. */
    static final int DEFAULT_NUMBER = 20;
    /** How long a follow stream waits for a flow before checking whether the client went away. */
    private static final Duration POLL = Duration.ofMillis(100);

    private final FlowRing ring;
    private final String nodeName;
    private final long startNanos = System.nanoTime();

    ObserverService(FlowRing ring, String nodeName) {
        this.ring = ring;
        this.nodeName = nodeName;
    }

    @Override
    public void serverStatus(ServerStatusRequest request, StreamObserver<ServerStatusResponse> response) {
        FlowRing.Counters counters = ring.counters();
        response.onNext(ServerStatusResponse.newBuilder()
                .setNumFlows(counters.numFlows())
                .setMaxFlows(counters.maxFlows())
                .setSeenFlows(counters.seenFlows())
                .setLostEvents(counters.lostEvents())
                .setUptimeNs(System.nanoTime() - startNanos)
                .build());
        response.onCompleted();
    }

    @Override
    public void getFlows(GetFlowsRequest request, StreamObserver<GetFlowsResponse> response) {
        Predicate<Flow> matches;
        try {
            matches = FlowFilters.compile(request.getWhitelistList(), request.getBlacklistList());
        } catch (IllegalArgumentException e) {
            response.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        Predicate<Flow> selected = matches.and(inTimeRange(request));
        if (!request.getFollow()) {
            last(ring.snapshot(), selected, request).forEach(flow -> response.onNext(wrap(flow)));
            response.onCompleted();
            return;
        }
        ServerCallStreamObserver<GetFlowsResponse> call = (ServerCallStreamObserver<GetFlowsResponse>) response;
        FlowRing.Subscription subscription = ring.follow(FlowRing.DEFAULT_FOLLOWER_QUEUE);
        Thread sender = Thread.ofVirtual().name("observe-follow").unstarted(() -> follow(subscription, selected, request, call));
        // gRPC takes these handlers only before this method returns.
        call.setOnReadyHandler(() -> LockSupport.unpark(sender));
        call.setOnCancelHandler(() -> LockSupport.unpark(sender));
        sender.start();
    }

    private void follow(FlowRing.Subscription subscription, Predicate<Flow> selected, GetFlowsRequest request,
                        ServerCallStreamObserver<GetFlowsResponse> call) {
        try (Follower follower = subscription.follower()) {
            for (Flow flow : last(subscription.backlog(), selected, request)) {
                send(call, flow);
            }
            while (!call.isCancelled()) {
                Flow flow = follower.poll(POLL);
                if (flow == null) {
                    continue;
                }
                if (request.hasUntil() && Timestamps.compare(flow.getTime(), request.getUntil()) > 0) {
                    call.onCompleted();
                    return;
                }
                if (selected.test(flow)) {
                    send(call, flow);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // The client went away between the check and the send; nothing is left to tell it.
            if (!call.isCancelled()) {
                throw e;
            }
        }
    }

    /**
     * Waits for the transport to take more instead of buffering without bound: the follower's bounded queue,
     * not the server's memory, absorbs a slow client.
     */
    private void send(ServerCallStreamObserver<GetFlowsResponse> call, Flow flow) {
        while (!call.isReady() && !call.isCancelled()) {
            LockSupport.parkNanos(POLL.toNanos());
        }
        if (!call.isCancelled()) {
            call.onNext(wrap(flow));
        }
    }

    private static List<Flow> last(List<Flow> flows, Predicate<Flow> selected, GetFlowsRequest request) {
        List<Flow> matching = flows.stream().filter(selected).toList();
        long number = request.getNumber();
        if (number == 0) {
            number = request.hasSince() || request.hasUntil() ? Long.MAX_VALUE : DEFAULT_NUMBER;
        }
        return matching.subList((int) Math.max(0, matching.size() - number), matching.size());
    }

    private static Predicate<Flow> inTimeRange(GetFlowsRequest request) {
        Predicate<Flow> range = flow -> true;
        if (request.hasSince()) {
            Timestamp since = request.getSince();
            range = range.and(flow -> Timestamps.compare(flow.getTime(), since) >= 0);
        }
        if (request.hasUntil()) {
            Timestamp until = request.getUntil();
            range = range.and(flow -> Timestamps.compare(flow.getTime(), until) <= 0);
        }
        return range;
    }

    private GetFlowsResponse wrap(Flow flow) {
        return GetFlowsResponse.newBuilder().setFlow(flow).setTime(flow.getTime())
                .setNodeName(flow.getNodeName().isEmpty() ? nodeName : flow.getNodeName()).build();
    }
}
