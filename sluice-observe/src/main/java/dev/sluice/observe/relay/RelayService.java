package dev.sluice.observe.relay;

import com.google.protobuf.Timestamp;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.util.Timestamps;
import dev.sluice.hubble.observer.GetAgentEventsRequest;
import dev.sluice.hubble.observer.GetAgentEventsResponse;
import dev.sluice.hubble.observer.GetDebugEventsRequest;
import dev.sluice.hubble.observer.GetDebugEventsResponse;
import dev.sluice.hubble.observer.GetFlowsRequest;
import dev.sluice.hubble.observer.GetFlowsResponse;
import dev.sluice.hubble.observer.GetNodesRequest;
import dev.sluice.hubble.observer.GetNodesResponse;
import dev.sluice.hubble.observer.Node;
import dev.sluice.hubble.observer.ObserverGrpc;
import dev.sluice.hubble.observer.ServerStatusRequest;
import dev.sluice.hubble.observer.ServerStatusResponse;
import dev.sluice.hubble.relay.NodeState;
import dev.sluice.hubble.relay.NodeStatusEvent;
import dev.sluice.observe.hubble.HubbleObserverService;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Hubble Relay's Observer API: every node's flows in one stream, in time order; the nodes' status summed,
 * with which nodes did not answer. A node that goes away is reported (a {@code node_status} event in the
 * stream, {@code unavailable_nodes} in ServerStatus) and asked again every second; the stream goes on with the
 * others.
 */
final class RelayService extends ObserverGrpc.ObserverImplBase {
    /** How long a node may take to answer a request that is not followed. */
    private static final long CALL_DEADLINE_MS = 10_000;
    private static final long RETRY_MS = 1000;

    private final PeerDirectory peers;
    private final int sortBufferMaxLen;
    private final Duration drainTimeout;
    private final long startNanos = System.nanoTime();

    /**
     * @param sortBufferMaxLen flows held at most before the oldest is sent (hubble-relay's --sort-buffer-len-max)
     * @param drainTimeout     how long a followed flow waits for an older one from another node (hubble-relay's
     *                         --sort-buffer-drain-timeout)
     */
    RelayService(PeerDirectory peers, int sortBufferMaxLen, Duration drainTimeout) {
        this.peers = peers;
        this.sortBufferMaxLen = sortBufferMaxLen;
        this.drainTimeout = drainTimeout;
    }

    @Override
    public void serverStatus(ServerStatusRequest request, StreamObserver<ServerStatusResponse> response) {
        ServerStatusResponse.Builder sum = ServerStatusResponse.newBuilder().setVersion(HubbleObserverService.VERSION);
        int connected = 0;
        List<String> unavailable = new ArrayList<>();
        for (var e : statuses().entrySet()) {
            ServerStatusResponse s = e.getValue().status();
            if (s == null) {
                unavailable.add(e.getKey());
                continue;
            }
            connected++;
            sum.setNumFlows(sum.getNumFlows() + s.getNumFlows()).setMaxFlows(sum.getMaxFlows() + s.getMaxFlows())
                    .setSeenFlows(sum.getSeenFlows() + s.getSeenFlows()).setUptimeNs(Math.max(sum.getUptimeNs(), s.getUptimeNs()));
        }
        response.onNext(sum.setNumConnectedNodes(UInt32Value.of(connected)).setNumUnavailableNodes(UInt32Value.of(unavailable.size()))
                .addAllUnavailableNodes(unavailable).build());
        response.onCompleted();
    }

    @Override
    public void getNodes(GetNodesRequest request, StreamObserver<GetNodesResponse> response) {
        GetNodesResponse.Builder nodes = GetNodesResponse.newBuilder();
        for (var e : statuses().entrySet()) {
            ServerStatusResponse s = e.getValue().status();
            Node.Builder node = Node.newBuilder().setName(e.getKey()).setAddress(e.getValue().node().address())
                    .setState(s == null ? NodeState.NODE_UNAVAILABLE : NodeState.NODE_CONNECTED);
            if (s != null) {
                node.setVersion(s.getVersion()).setUptimeNs(s.getUptimeNs()).setNumFlows(s.getNumFlows())
                        .setMaxFlows(s.getMaxFlows()).setSeenFlows(s.getSeenFlows());
            }
            nodes.addNodes(node);
        }
        response.onNext(nodes.build());
        response.onCompleted();
    }

    private record Answer(NodeClient node, ServerStatusResponse status) {}

    /** Every known node's ServerStatus, asked at once (null where it did not answer), by node name. */
    private Map<String, Answer> statuses() {
        Map<String, Answer> answers = new ConcurrentHashMap<>();
        List<Thread> asking = new ArrayList<>();
        for (NodeClient node : peers.nodes().values()) {
            asking.add(Thread.ofVirtual().start(() -> {
                ServerStatusResponse s = node.status();
                answers.put(node.name(), new Answer(node, s));
            }));
        }
        join(asking);
        return new TreeMap<>(answers);
    }

    @Override
    public void getFlows(GetFlowsRequest request, StreamObserver<GetFlowsResponse> response) {
        ServerCallStreamObserver<GetFlowsResponse> call = (ServerCallStreamObserver<GetFlowsResponse>) response;
        if (request.getFollow()) {
            follow(request, call);
        } else {
            Thread.ofVirtual().name("relay-flows").start(Context.current().wrap(() -> once(request, call)));
        }
    }

    /** Every node's answer, merged in time order, then the last N of them (N as one node would count it). */
    private void once(GetFlowsRequest request, ServerCallStreamObserver<GetFlowsResponse> call) {
        List<GetFlowsResponse> flows = java.util.Collections.synchronizedList(new ArrayList<>());
        List<String> answered = java.util.Collections.synchronizedList(new ArrayList<>());
        List<String> failed = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> asking = new ArrayList<>();
        for (NodeClient node : peers.nodes().values()) {
            asking.add(Thread.ofVirtual().start(Context.current().wrap(() -> {
                try {
                    List<GetFlowsResponse> mine = new ArrayList<>();
                    node.observer().withDeadlineAfter(CALL_DEADLINE_MS, TimeUnit.MILLISECONDS).getFlows(request)
                            .forEachRemaining(r -> {
                                if (r.hasFlow()) {
                                    mine.add(r);
                                }
                            });
                    flows.addAll(mine);
                    answered.add(node.name());
                } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) {
                        failed.add(node.name() + " " + e.getStatus().getDescription());
                    } else {
                        node.unavailable(e.getStatus().getCode().toString());
                        failed.add(node.name());
                    }
                }
            })));
        }
        join(asking);
        for (String f : failed) {
            if (f.contains(" ")) {
                // The request itself is wrong: every node says so; tell the client as a node would.
                call.onError(Status.INVALID_ARGUMENT.withDescription(f.substring(f.indexOf(' ') + 1)).asRuntimeException());
                return;
            }
        }
        if (!answered.isEmpty()) {
            send(call, nodeStatus(NodeState.NODE_CONNECTED, answered.stream().sorted().toList(), ""));
        }
        if (!failed.isEmpty()) {
            send(call, nodeStatus(NodeState.NODE_UNAVAILABLE, failed.stream().sorted().toList(), "did not answer"));
        }
        List<GetFlowsResponse> sorted = new ArrayList<>(flows);
        sorted.sort(Comparator.comparingLong(RelayService::nanos));
        long number = request.getNumber() > 0 ? request.getNumber()
                : request.hasSince() || request.hasUntil() ? Long.MAX_VALUE : 20;
        for (GetFlowsResponse r : sorted.subList((int) Math.max(0, sorted.size() - Math.min(number, sorted.size())), sorted.size())) {
            send(call, r);
        }
        if (!call.isCancelled()) {
            call.onCompleted();
        }
    }

    /** An item of the sort buffer: a flow and when it arrived, or a node's change of state (sent at once). */
    private record Item(GetFlowsResponse response, long arrivedNanos) {}

    /**
     * A stream from every node, into a buffer sorted by the flows' time: a flow is sent once it has waited the
     * drain timeout (an older flow of another node would have arrived by then) or once the buffer is full.
     * A node whose stream breaks is reported unavailable and asked again every second, from the time of its
     * last flow on, so that nothing it kept meanwhile is lost or repeated.
     */
    private void follow(GetFlowsRequest request, ServerCallStreamObserver<GetFlowsResponse> call) {
        java.util.PriorityQueue<Item> buffer = new java.util.PriorityQueue<>(Comparator.comparingLong((Item i) -> nanos(i.response())));
        java.util.concurrent.LinkedBlockingQueue<GetFlowsResponse> statuses = new java.util.concurrent.LinkedBlockingQueue<>();
        Object lock = new Object();
        Map<String, Thread> streams = new ConcurrentHashMap<>();
        Context context = Context.current();
        java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
        Thread sender = Thread.ofVirtual().name("relay-follow").unstarted(() -> {
            while (!call.isCancelled() && !ended.get()) {
                // Nodes the peer service named since the stream began get a stream of their own.
                for (NodeClient node : peers.nodes().values()) {
                    streams.computeIfAbsent(node.name(), n -> Thread.ofVirtual().name("relay-" + n)
                            .start(context.wrap(() -> nodeStream(node, request, call, buffer, statuses, lock, ended))));
                }
                GetFlowsResponse status;
                while ((status = statuses.poll()) != null) {
                    send(call, status);
                }
                List<GetFlowsResponse> due = new ArrayList<>();
                synchronized (lock) {
                    long now = System.nanoTime();
                    while (!buffer.isEmpty() && (buffer.size() > sortBufferMaxLen
                            || now - buffer.peek().arrivedNanos() >= drainTimeout.toNanos())) {
                        due.add(buffer.poll().response());
                    }
                }
                due.forEach(r -> send(call, r));
                LockSupport.parkNanos(Math.min(drainTimeout.toNanos() / 4, 25_000_000L));
            }
        });
        call.setOnReadyHandler(() -> LockSupport.unpark(sender));
        call.setOnCancelHandler(() -> LockSupport.unpark(sender));
        sender.start();
    }

    private void nodeStream(NodeClient node, GetFlowsRequest request, ServerCallStreamObserver<GetFlowsResponse> call,
                            java.util.PriorityQueue<Item> buffer, java.util.concurrent.BlockingQueue<GetFlowsResponse> statuses, Object lock,
                            java.util.concurrent.atomic.AtomicBoolean ended) {
        Timestamp last = null;
        boolean reported = false;
        boolean down = false;
        while (!call.isCancelled() && !ended.get()) {
            GetFlowsRequest.Builder asked = request.toBuilder();
            if (last != null) {
                // Again after a break: from just after the last flow this node sent, every one (number 0 with since).
                asked.setSince(Timestamps.add(last, com.google.protobuf.util.Durations.fromNanos(1))).setNumber(0);
            }
            if (node.status() == null) {
                if (!down || !reported) {
                    statuses.add(nodeStatus(NodeState.NODE_UNAVAILABLE, List.of(node.name()), node.problem()));
                    down = true;
                    reported = true;
                }
                sleep(RETRY_MS);
                continue;
            }
            if (down || !reported) {
                statuses.add(nodeStatus(NodeState.NODE_CONNECTED, List.of(node.name()), ""));
                down = false;
                reported = true;
            }
            try {
                var responses = node.observer().getFlows(asked.build());
                while (responses.hasNext()) {
                    GetFlowsResponse r = responses.next();
                    if (!r.hasFlow()) {
                        continue;
                    }
                    last = r.getFlow().getTime();
                    synchronized (lock) {
                        buffer.add(new Item(r, System.nanoTime()));
                    }
                }
                return; // the node ended the stream (an until time was reached)
            } catch (StatusRuntimeException e) {
                if (call.isCancelled()) {
                    return;
                }
                if (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) {
                    // The request itself is wrong (every node would say so): the client is told, once.
                    synchronized (call) {
                        if (ended.compareAndSet(false, true)) {
                            call.onError(e.getStatus().asRuntimeException());
                        }
                    }
                    return;
                }
                node.unavailable(e.getStatus().getCode().toString());
                statuses.add(nodeStatus(NodeState.NODE_UNAVAILABLE, List.of(node.name()), e.getStatus().getCode().toString()));
                down = true;
                sleep(RETRY_MS);
            }
        }
    }

    private static GetFlowsResponse nodeStatus(NodeState state, List<String> nodes, String message) {
        return GetFlowsResponse.newBuilder().setNodeStatus(NodeStatusEvent.newBuilder().setStateChange(state)
                .addAllNodeNames(nodes).setMessage(message)).setTime(Timestamps.now()).build();
    }

    /** Waits for the transport rather than buffering without bound; a slow client holds the sort buffer back. */
    private static void send(ServerCallStreamObserver<GetFlowsResponse> call, GetFlowsResponse r) {
        synchronized (call) {
            while (!call.isReady() && !call.isCancelled()) {
                LockSupport.parkNanos(10_000_000L);
            }
            if (!call.isCancelled()) {
                try {
                    call.onNext(r);
                } catch (RuntimeException e) {
                    if (!call.isCancelled()) {
                        throw e;
                    }
                }
            }
        }
    }

    private static long nanos(GetFlowsResponse r) {
        Timestamp t = r.hasFlow() ? r.getFlow().getTime() : r.getTime();
        return t.getSeconds() * 1_000_000_000L + t.getNanos();
    }

    private static void join(List<Thread> threads) {
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void getAgentEvents(GetAgentEventsRequest request, StreamObserver<GetAgentEventsResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("Sluice reports no agent events").asRuntimeException());
    }

    @Override
    public void getDebugEvents(GetDebugEventsRequest request, StreamObserver<GetDebugEventsResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("Sluice reports no datapath debug events").asRuntimeException());
    }

    long uptimeNanos() {
        return System.nanoTime() - startNanos;
    }
}
