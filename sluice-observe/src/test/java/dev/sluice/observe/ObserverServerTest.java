package dev.sluice.observe;

import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.FlowFilter;
import dev.sluice.observe.v1.GetFlowsRequest;
import dev.sluice.observe.v1.GetFlowsResponse;
import dev.sluice.observe.v1.ObserverGrpc;
import dev.sluice.observe.v1.ServerStatusRequest;
import dev.sluice.observe.v1.ServerStatusResponse;
import dev.sluice.observe.v1.Verdict;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ObserverServerTest {
    @TempDir
    Path dir;
    private final FlowRing ring = new FlowRing(100);
    private ObserverServer server;
    private ManagedChannel channel;
    private ObserverGrpc.ObserverBlockingStub stub;

    /** Flow n happens n seconds after T0, on port 10000 + n so that each can be told apart. */
    private static Flow numbered(int n) {
        return Flows.forwarded().toBuilder().setTime(Flows.at(Flows.T0.plusSeconds(n)))
                .setL4(Flows.tcp(10000 + n, 50051, Flows.syn())).build();
    }

    private static List<Integer> numbers(Iterator<GetFlowsResponse> responses) {
        List<Integer> numbers = new ArrayList<>();
        responses.forEachRemaining(r -> numbers.add(r.getFlow().getL4().getTCP().getSourcePort() - 10000));
        return numbers;
    }

    @BeforeEach
    void start() {
        IntStream.rangeClosed(1, 30).forEach(n -> ring.add(numbered(n)));
        ring.add(Flows.dropped());
        server = ObserverServer.start(ring, "node-2", dir.resolve("hubble.sock"), OptionalInt.of(0));
        channel = Grpc.newChannelBuilder("unix://" + server.socket(), InsecureChannelCredentials.create()).build();
        stub = ObserverGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }

    private static FlowFilter forwarded() {
        return FlowFilter.newBuilder().addVerdict(Verdict.FORWARDED).build();
    }

    @Test
    void lastTwentyByDefaultAndLastN() {
        assertEquals(IntStream.rangeClosed(11, 30).boxed().toList(),
                numbers(stub.getFlows(GetFlowsRequest.newBuilder().addWhitelist(forwarded()).build())));
        assertEquals(List.of(28, 29, 30),
                numbers(stub.getFlows(GetFlowsRequest.newBuilder().setNumber(3).addWhitelist(forwarded()).build())));
    }

    @Test
    void filtersApply() {
        Iterator<GetFlowsResponse> drops = stub.getFlows(GetFlowsRequest.newBuilder()
                .addWhitelist(FlowFilter.newBuilder().addDropReasonDesc("Policy denied")).build());
        GetFlowsResponse drop = drops.next();
        assertEquals(Flows.dropped(), drop.getFlow());
        assertEquals("node-2", drop.getNodeName());
        assertEquals(false, drops.hasNext());
        StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> stub.getFlows(GetFlowsRequest.newBuilder()
                .addWhitelist(FlowFilter.newBuilder().addHttpPath("(")).build()).hasNext());
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
    }

    @Test
    void sinceAndUntilBoundTheTimeAndLiftTheDefaultLimit() {
        GetFlowsRequest range = GetFlowsRequest.newBuilder().addWhitelist(forwarded())
                .setSince(Flows.at(Flows.T0.plusSeconds(5))).setUntil(Flows.at(Flows.T0.plusSeconds(8))).build();
        assertEquals(List.of(5, 6, 7, 8), numbers(stub.getFlows(range)));
        GetFlowsRequest since = GetFlowsRequest.newBuilder().addWhitelist(forwarded()).setSince(Flows.at(Flows.T0.plusSeconds(2))).build();
        assertEquals(29, numbers(stub.getFlows(since)).size());
    }

    @Test
    void followSendsTheLastNThenNewFlowsUntilCancelled() throws Exception {
        try (Context.CancellableContext context = Context.current().withCancellation()) {
            Iterator<GetFlowsResponse> responses = context.call(() -> stub.getFlows(GetFlowsRequest.newBuilder()
                    .setNumber(2).setFollow(true).addWhitelist(forwarded()).build()));
            assertEquals(29, responses.next().getFlow().getL4().getTCP().getSourcePort() - 10000);
            assertEquals(30, responses.next().getFlow().getL4().getTCP().getSourcePort() - 10000);
            long before = System.nanoTime();
            Thread.ofVirtual().start(() -> {
                ring.add(Flows.dropped());
                ring.add(numbered(31));
            });
            assertEquals(31, responses.next().getFlow().getL4().getTCP().getSourcePort() - 10000, "the drop is filtered out");
            assertTrue(System.nanoTime() - before < TimeUnit.SECONDS.toNanos(1), "a new flow arrives within a second");
            context.cancel(null);
        }
    }

    @Test
    void statusCountsFlows() {
        ServerStatusResponse status = stub.serverStatus(ServerStatusRequest.getDefaultInstance());
        assertEquals(31, status.getNumFlows());
        assertEquals(100, status.getMaxFlows());
        assertEquals(31, status.getSeenFlows());
        assertEquals(0, status.getLostEvents());
        assertTrue(status.getUptimeNs() > 0);
    }

    @Test
    void alsoServesOnLoopbackTcp() throws InterruptedException {
        ManagedChannel tcp = Grpc.newChannelBuilder("127.0.0.1:" + server.tcpPort().orElseThrow(), InsecureChannelCredentials.create()).build();
        try {
            assertEquals(31, ObserverGrpc.newBlockingStub(tcp).serverStatus(ServerStatusRequest.getDefaultInstance()).getSeenFlows());
        } finally {
            tcp.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
