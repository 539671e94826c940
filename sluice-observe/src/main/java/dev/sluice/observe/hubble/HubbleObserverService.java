package dev.sluice.observe.hubble;

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
import dev.sluice.observe.FlowRing;
import io.grpc.BindableService;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/**
 * Hubble's {@code observer.Observer} over one node's ring: what {@code hubble observe --server} and Hubble
 * Relay call on a Cilium agent. Filters and flows are translated to and from Sluice's ({@link HubbleFilters},
 * {@link HubbleFlows}); the streaming itself is the node's own (the Sluice service passed in).
 */
public final class HubbleObserverService extends ObserverGrpc.ObserverImplBase {
    /** What ServerStatus and GetNodes report as the version (Hubble reports Cilium's). */
    public static final String VERSION = "sluice/" + version();

    private final FlowRing ring;
    private final String nodeName;
    private final String address;
    private final dev.sluice.observe.v1.ObserverGrpc.ObserverImplBase flows;
    private final long startNanos = System.nanoTime();

    /**
     * @param flows the node's Sluice Observer service, which streams the ring
     * @param address where this API is served, as GetNodes reports it
     */
    public HubbleObserverService(FlowRing ring, String nodeName, String address, BindableService flows) {
        this.ring = ring;
        this.nodeName = nodeName;
        this.address = address;
        this.flows = (dev.sluice.observe.v1.ObserverGrpc.ObserverImplBase) flows;
    }

    private static String version() {
        String v = HubbleObserverService.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public void getFlows(GetFlowsRequest request, StreamObserver<GetFlowsResponse> response) {
        dev.sluice.observe.v1.GetFlowsRequest.Builder sluice = dev.sluice.observe.v1.GetFlowsRequest.newBuilder()
                .setNumber(request.getNumber()).setFollow(request.getFollow());
        if (request.getFirst()) {
            response.onError(Status.UNIMPLEMENTED.withDescription("GetFlowsRequest.first is not supported by Sluice").asRuntimeException());
            return;
        }
        if (request.hasSince()) {
            sluice.setSince(request.getSince());
        }
        if (request.hasUntil()) {
            sluice.setUntil(request.getUntil());
        }
        try {
            sluice.addAllWhitelist(HubbleFilters.toSluice(request.getWhitelistList()))
                    .addAllBlacklist(HubbleFilters.toSluice(request.getBlacklistList()));
        } catch (IllegalArgumentException e) {
            response.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        ServerCallStreamObserver<GetFlowsResponse> call = (ServerCallStreamObserver<GetFlowsResponse>) response;
        flows.getFlows(sluice.build(), new ForwardingCallObserver<>(call, HubbleObserverService::response));
    }

    static GetFlowsResponse response(dev.sluice.observe.v1.GetFlowsResponse r) {
        return GetFlowsResponse.newBuilder().setFlow(HubbleFlows.toHubble(r.getFlow()))
                .setNodeName(r.getNodeName()).setTime(r.getTime()).build();
    }

    @Override
    public void serverStatus(ServerStatusRequest request, StreamObserver<ServerStatusResponse> response) {
        FlowRing.Counters c = ring.counters();
        response.onNext(ServerStatusResponse.newBuilder().setNumFlows(c.numFlows()).setMaxFlows(c.maxFlows())
                .setSeenFlows(c.seenFlows()).setUptimeNs(System.nanoTime() - startNanos).setVersion(VERSION).build());
        response.onCompleted();
    }

    /** An agent knows itself: Hubble's agent answers GetNodes only through the relay; Sluice's names itself. */
    @Override
    public void getNodes(GetNodesRequest request, StreamObserver<GetNodesResponse> response) {
        FlowRing.Counters c = ring.counters();
        response.onNext(GetNodesResponse.newBuilder().addNodes(Node.newBuilder().setName(nodeName).setVersion(VERSION)
                .setAddress(address).setState(NodeState.NODE_CONNECTED).setUptimeNs(System.nanoTime() - startNanos)
                .setNumFlows(c.numFlows()).setMaxFlows(c.maxFlows()).setSeenFlows(c.seenFlows())).build());
        response.onCompleted();
    }

    @Override
    public void getAgentEvents(GetAgentEventsRequest request, StreamObserver<GetAgentEventsResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("Sluice reports no agent events").asRuntimeException());
    }

    @Override
    public void getDebugEvents(GetDebugEventsRequest request, StreamObserver<GetDebugEventsResponse> response) {
        response.onError(Status.UNIMPLEMENTED.withDescription("Sluice reports no datapath debug events").asRuntimeException());
    }

    static long nanos(com.google.protobuf.Timestamp t) {
        return Timestamps.toNanos(t);
    }
}
