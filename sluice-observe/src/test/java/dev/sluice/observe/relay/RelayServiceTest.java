package dev.sluice.observe.relay;

import com.google.protobuf.util.Timestamps;
import dev.sluice.hubble.observer.GetFlowsRequest;
import dev.sluice.hubble.observer.GetFlowsResponse;
import dev.sluice.hubble.observer.GetNodesRequest;
import dev.sluice.hubble.observer.ObserverGrpc;
import dev.sluice.hubble.observer.ServerStatusRequest;
import dev.sluice.hubble.observer.ServerStatusResponse;
import dev.sluice.hubble.relay.NodeState;
import dev.sluice.observe.FlowRing;
import dev.sluice.observe.Flows;
import dev.sluice.observe.ObserverServer;
import dev.sluice.observe.v1.Flow;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The relay over three nodes' real Observer servers (unix sockets), found through node-1's peer service. */
class RelayServiceTest {
    @TempDir
    Path dir;
    private final FlowRing[] rings = {new FlowRing(100), new FlowRing(100), new FlowRing(100)};
    private final ObserverServer[] nodes = new ObserverServer[3];
    private PeerDirectory peers;
    private Server relay;
    private ManagedChannel channel;

    @BeforeEach
    void start() throws Exception {
        for (int i = 0; i < 3; i++) {
            nodes[i] = ObserverServer.start(rings[i], "node-" + (i + 1), dir.resolve("node-" + (i + 1) + ".sock"), OptionalInt.empty());
        }
        Map<String, String> all = Map.of("node-1", "unix://" + dir.resolve("node-1.sock"), "node-2", "unix://" + dir.resolve("node-2.sock"),
                "node-3", "unix://" + dir.resolve("node-3.sock"));
        for (ObserverServer node : nodes) {
            node.peers().peers(all);
        }
        peers = new PeerDirectory(List.of("unix://" + dir.resolve("node-1.sock"), "unix://" + dir.resolve("node-2.sock")), l -> {});
        assertTrue(peers.awaitNodes(3, 5000), "the peer service names the three nodes: " + peers.nodes().keySet());
        relay = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .addService(new RelayService(peers, 100, Duration.ofMillis(100))).build().start();
        channel = Grpc.newChannelBuilder("dns:///127.0.0.1:" + relay.getPort(), InsecureChannelCredentials.create()).build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        relay.shutdownNow();
        peers.close();
        for (ObserverServer node : nodes) {
            if (node != null) {
                node.close();
            }
        }
    }

    private static Flow at(int node, long millis) {
        return Flows.forwarded().toBuilder().setNodeName("node-" + node).setTime(Flows.at(Flows.T0.plusMillis(millis))).build();
    }

    private ObserverGrpc.ObserverBlockingStub stub() {
        return ObserverGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    }

    @Test
    void lastFlowsOfEveryNodeInTimeOrder() {
        // Interleaved times: each node's own flows in order, the merge must interleave them.
        for (int i = 0; i < 30; i++) {
            rings[i % 3].add(at(i % 3 + 1, i * 10L));
        }
        List<GetFlowsResponse> responses = new ArrayList<>();
        stub().getFlows(GetFlowsRequest.newBuilder().setNumber(25).build()).forEachRemaining(responses::add);
        List<Long> times = responses.stream().filter(GetFlowsResponse::hasFlow).map(r -> Timestamps.toMillis(r.getFlow().getTime())).toList();
        assertEquals(25, times.size(), "the last 25 of all nodes' flows");
        List<Long> sorted = new ArrayList<>(times);
        sorted.sort(Long::compare);
        assertEquals(sorted, times, "in time order");
        assertEquals(Timestamps.toMillis(Flows.at(Flows.T0.plusMillis(290))), times.getLast());
        assertEquals(List.of("node-1", "node-2", "node-3"), responses.getFirst().getNodeStatus().getNodeNamesList());
        assertEquals(NodeState.NODE_CONNECTED, responses.getFirst().getNodeStatus().getStateChange());
        assertEquals(3, responses.stream().filter(GetFlowsResponse::hasFlow).map(r -> r.getFlow().getNodeName()).distinct().count());
    }

    @Test
    void statusAndNodesSumTheNodes() {
        rings[0].add(at(1, 1));
        rings[2].add(at(3, 2));
        ServerStatusResponse status = stub().serverStatus(ServerStatusRequest.getDefaultInstance());
        assertEquals(2, status.getNumFlows());
        assertEquals(300, status.getMaxFlows());
        assertEquals(3, status.getNumConnectedNodes().getValue());
        assertEquals(0, status.getNumUnavailableNodes().getValue());
        var list = stub().getNodes(GetNodesRequest.getDefaultInstance()).getNodesList();
        assertEquals(List.of("node-1", "node-2", "node-3"), list.stream().map(n -> n.getName()).toList());
        assertTrue(list.stream().allMatch(n -> n.getState() == NodeState.NODE_CONNECTED), list.toString());
    }

    @Test
    void aFollowedStreamGoesOnWhenANodeDiesAndTakesItBackWhenItReturns() throws Exception {
        BlockingQueue<GetFlowsResponse> got = new LinkedBlockingQueue<>();
        var call = io.grpc.Context.current().withCancellation();
        Thread reader = Thread.ofPlatform().daemon().start(() -> call.run(() -> {
            try {
                Iterator<GetFlowsResponse> it = ObserverGrpc.newBlockingStub(channel).getFlows(GetFlowsRequest.newBuilder().setFollow(true).build());
                it.forEachRemaining(got::add);
            } catch (RuntimeException ignored) {
                // cancelled at the end
            }
        }));
        try {
            long base = System.currentTimeMillis();
            // The earliest flow arrives last: the sort buffer puts it first.
            rings[0].add(at(1, 1001));
            rings[1].add(at(2, 1002));
            rings[2].add(at(3, 1000));
            List<Flow> first = flows(got, 3);
            assertEquals(List.of("node-3", "node-1", "node-2"), first.stream().map(Flow::getNodeName).toList(), "time order across nodes");

            nodes[1].close(); // node-2 dies
            nodes[1] = null;
            GetFlowsResponse down = awaitStatus(got, NodeState.NODE_UNAVAILABLE);
            assertEquals(List.of("node-2"), down.getNodeStatus().getNodeNamesList());
            rings[0].add(at(1, 2000));
            rings[2].add(at(3, 2001));
            assertEquals(List.of("node-1", "node-3"), flows(got, 2).stream().map(Flow::getNodeName).toList(), "the stream goes on");
            ServerStatusResponse status = stub().serverStatus(ServerStatusRequest.getDefaultInstance());
            assertEquals(List.of("node-2"), status.getUnavailableNodesList());
            assertEquals(2, status.getNumConnectedNodes().getValue());

            // node-2 back, with a flow it kept while the relay could not reach it.
            rings[1].add(at(2, 2500));
            nodes[1] = ObserverServer.start(rings[1], "node-2", dir.resolve("node-2.sock"), OptionalInt.empty());
            awaitStatus(got, NodeState.NODE_CONNECTED);
            List<Flow> back = flows(got, 1);
            assertEquals("node-2", back.getFirst().getNodeName());
            assertEquals(Timestamps.toMillis(Flows.at(Flows.T0.plusMillis(2500))), Timestamps.toMillis(back.getFirst().getTime()),
                    "what it kept meanwhile, nothing it sent before again");
            assertTrue(System.currentTimeMillis() - base < 20_000);
        } finally {
            call.cancel(null);
            reader.join(5000);
        }
    }

    private static List<Flow> flows(BlockingQueue<GetFlowsResponse> got, int n) throws InterruptedException {
        List<Flow> flows = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (flows.size() < n && System.nanoTime() < deadline) {
            GetFlowsResponse r = got.poll(100, TimeUnit.MILLISECONDS);
            if (r != null && r.hasFlow()) {
                flows.add(dev.sluice.observe.hubble.HubbleFlows.fromHubble(r.getFlow()));
            }
        }
        assertEquals(n, flows.size(), "flows within 10 s: " + flows);
        return flows;
    }

    private static GetFlowsResponse awaitStatus(BlockingQueue<GetFlowsResponse> got, NodeState state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            GetFlowsResponse r = got.poll(100, TimeUnit.MILLISECONDS);
            if (r != null && r.hasNodeStatus() && r.getNodeStatus().getStateChange() == state) {
                return r;
            }
            assertTrue(r == null || !r.hasFlow(), "no flow before the node's status: " + r);
        }
        throw new AssertionError("no " + state + " within 10 s");
    }

    @Test
    void aRelayWithNoPeerServiceSaysSo() {
        try (PeerDirectory none = new PeerDirectory(List.of("unix://" + dir.resolve("nobody.sock")), l -> {})) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (none.peerProblem() != null && none.peerProblem().startsWith("no peer") && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertNotNull(none.peerProblem());
            assertTrue(none.peerProblem().contains("nobody.sock"), none.peerProblem());
        }
    }

    @Test
    void aTakenPortGivesAnotherWhenAllowedAndAnErrorOtherwise() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            RelayService service = new RelayService(peers, 100, Duration.ofMillis(100));
            org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                    () -> RelayCommand.bind(service, taken.getLocalPort(), false));
            Server other = RelayCommand.bind(service, taken.getLocalPort(), true);
            try {
                assertTrue(other.getPort() > 0 && other.getPort() != taken.getLocalPort(), "port " + other.getPort());
            } finally {
                other.shutdownNow();
            }
        }
    }
}
