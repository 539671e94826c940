package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.e2e.PodProbe.Outcome;
import dev.sluice.hubble.observer.GetFlowsRequest;
import dev.sluice.hubble.observer.GetFlowsResponse;
import dev.sluice.hubble.observer.ObserverGrpc;
import dev.sluice.hubble.observer.ServerStatusRequest;
import dev.sluice.hubble.observer.ServerStatusResponse;
import dev.sluice.hubble.relay.NodeState;
import dev.sluice.lab.HubbleRelay;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.JavaCommand;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hubble's API in a lab with {@code hubble.relay.enabled}: a client generated only from Hubble's protos reads
 * each agent and the relay; the relay merges every node's flows in time order, follows them, and keeps going
 * when an agent (a process the lab started, killed by its PID) dies, listing it unavailable until it returns.
 * Run with 2 and 3 nodes (the subclasses).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class HubbleRelayLabTest {
    private static final String POLICY = "product-service-from-client";
    private Lab lab;
    private Path dir;
    private HubbleClient python;

    abstract int nodes();

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("hubble-lab");
        Path values = Files.writeString(dir.resolve("values.yaml"), """
                hubble:
                  enabled: true
                  relay: {enabled: true}
                bpf:
                  monitorAggregation: low
                """);
        lab = TestLabs.create("h");
        lab.up(nodes(), ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT, LabTest.ROOT.resolve("examples/demo/policy.yaml"),
                LabTest.ROOT.resolve("examples/demo/rogue.yaml"))), values);
        python = new HubbleClient();
        // The seed's story: the client allowed, the rogue pod dropped by the policy.
        // Retried: on a loaded machine the first call of a fresh lab may time out; the test is about its flows.
        dev.sluice.linux.Command.Result call = null;
        for (int attempt = 0; attempt < 3 && (call == null || call.exitCode() != 0); attempt++) {
            call = lab.execCapture("deploy/client", JavaCommand.sluice("call", "--grpc", "-n", "4", "product-service:50051"));
        }
        assertEquals(0, call.exitCode(), call.stdout() + call.stderr());
        lab.execCapture("deploy/some-rogue-pod", JavaCommand.sluice("call", "--grpc", "-n", "1", "--timeout", "1s", "product-service:50051"));
    }

    @AfterAll
    void down() throws Exception {
        if (python != null) {
            python.close();
        }
        if (lab != null) {
            java.util.Optional<Long> relayPid = lab.relay().map(HubbleRelay.Status::pid);
            TestLabs.down(lab);
            relayPid.ifPresent(pid -> assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
                    "lab down stopped the relay, process " + pid));
        }
        if (dir != null) {
            Files.deleteIfExists(dir.resolve("values.yaml"));
            Files.deleteIfExists(dir);
        }
    }

    private String node(String name) {
        return "unix://" + lab.layout(name).observerSocket();
    }

    private HubbleRelay.Status relay() {
        return lab.relay().orElseThrow(() -> new AssertionError("hubble.relay.enabled: the lab started no relay"));
    }

    private List<String> nodeNames() {
        return lab.state().nodes().stream().map(LabState.NodeState::name).toList();
    }

    @Test
    @Order(1)
    void aClientFromHubblesProtosReadsEachAgent() throws Exception {
        JsonNode drop = null;
        for (String name : nodeNames()) {
            JsonNode status = python.call(node(name), "status");
            assertTrue(status.path("num_flows").asLong() > 0, name + ": " + status);
            assertEquals(4095, status.path("max_flows").asLong(), status.toString());
            assertTrue(status.path("version").asText().startsWith("sluice/"), status.toString());
            assertTrue(status.path("num_connected_nodes").isMissingNode(), "an agent is no relay: " + status);

            JsonNode nodes = python.call(node(name), "nodes");
            assertEquals(name, nodes.path("nodes").get(0).path("name").asText(), nodes.toString());
            assertEquals("NODE_CONNECTED", nodes.path("nodes").get(0).path("state").asText(), nodes.toString());

            JsonNode peers = python.call(node(name), "peers", "2");
            Set<String> named = new TreeSet<>();
            for (JsonNode change : peers.path("changes")) {
                assertEquals("PEER_ADDED", change.path("type").asText(), change.toString());
                assertEquals(node(change.path("name").asText()), change.path("address").asText(), change.toString());
                named.add(change.path("name").asText());
            }
            assertEquals(new TreeSet<>(nodeNames()), named, "every node, from any agent's peer service: " + peers);

            assertEquals("UNIMPLEMENTED", python.call(node(name), "agent-events").path("code").asText());

            for (JsonNode r : python.call(node(name), "flows", "4000").path("responses")) {
                JsonNode f = r.path("flow");
                assertEquals(name, r.path("node_name").asText());
                assertEquals(name, f.path("node_name").asText());
                if ("DROPPED".equals(f.path("verdict").asText()) && f.path("source").path("pod_name").asText().startsWith("some-rogue-pod")) {
                    drop = f;
                }
            }
        }
        assertTrue(drop != null, "the rogue pod's drop, from one of the nodes");
        System.out.println("a drop as Hubble's Python client reads it: " + drop);
        assertEquals("POLICY_DENIED", drop.path("drop_reason_desc").asText(), drop.toString());
        assertEquals(1, drop.path("event_type").path("type").asInt(), "Cilium's drop message type: " + drop);
        assertEquals("L3_L4", drop.path("Type").asText(), drop.toString());
        assertEquals("INGRESS", drop.path("traffic_direction").asText(), drop.toString());
        assertEquals(POLICY, drop.path("ingress_denied_by").get(0).path("name").asText(), drop.toString());
        assertEquals("default", drop.path("source").path("namespace").asText(), drop.toString());
        assertTrue(drop.path("source").path("identity").asInt() > 255, drop.toString());
        assertEquals(50051, drop.path("l4").path("TCP").path("destination_port").asInt(), drop.toString());
        assertTrue(drop.path("l4").path("TCP").path("flags").path("SYN").asBoolean(), drop.toString());
        assertFalse(drop.path("uuid").asText().isEmpty(), drop.toString());
        assertEquals("product-service", drop.path("destination_service").path("name").asText(), drop.toString());
    }

    @Test
    @Order(2)
    void theRelayServesHubblesApiOverEveryNode() throws Exception {
        HubbleRelay.Status relay = relay();
        assertTrue(relay.running() && relay.port().isPresent(), relay.describe());
        String tcp = "127.0.0.1:" + relay.port().get();
        JsonNode status = python.call(tcp, "status");
        assertEquals(nodes(), status.path("num_connected_nodes").asInt(), status.toString());
        assertEquals(0, status.path("num_unavailable_nodes").asInt(), status.toString());
        assertEquals(4095L * nodes(), status.path("max_flows").asLong(), status.toString());
        JsonNode nodeList = python.call("unix://" + relay.socket(), "nodes");
        assertEquals(nodes(), nodeList.path("nodes").size(), nodeList.toString());
        for (JsonNode n : nodeList.path("nodes")) {
            assertEquals("NODE_CONNECTED", n.path("state").asText(), n.toString());
            assertEquals(node(n.path("name").asText()), n.path("address").asText(), n.toString());
        }

        List<JsonNode> flows = new ArrayList<>();
        for (JsonNode r : python.call(tcp, "flows", "1000").path("responses")) {
            if (r.has("flow")) {
                flows.add(r.path("flow"));
            }
        }
        long held = status.path("num_flows").asLong();
        assertTrue(flows.size() >= Math.min(1000, held) && flows.size() <= 1000,
                flows.size() + " flows: the last 1,000 of all nodes, or all of the " + held + " they held");
        Set<String> from = new TreeSet<>();
        String previous = "";
        for (JsonNode f : flows) {
            String time = f.path("time").asText(); // RFC 3339 in UTC, nanoseconds: ordered as text when equally long
            assertTrue(normalized(time).compareTo(previous) >= 0, "time order: " + time + " after " + previous);
            previous = normalized(time);
            from.add(f.path("node_name").asText());
        }
        assertEquals(new TreeSet<>(nodeNames()), from, "flows of every node through the relay");

        // A filter of Hubble's, pushed to the nodes.
        JsonNode dropped = python.call(tcp, "flows", "100", "{\"verdict\": [\"DROPPED\"], \"source_pod\": [\"default/some-rogue-pod\"]}");
        int n = 0;
        for (JsonNode r : dropped.path("responses")) {
            if (r.has("flow")) {
                assertEquals("DROPPED", r.path("flow").path("verdict").asText(), r.toString());
                n++;
            }
        }
        assertTrue(n > 0, dropped.toString());

        CliRun observe = CliRun.of(lab, "observe", "--last", "50");
        assertEquals(0, observe.exit(), observe.err());
        assertTrue(observe.lines().size() <= 50 && observe.lines().size() >= Math.min(50, held),
                "the last 50 flows, or all the " + held + " the nodes held:\n" + observe.out());
        assertTrue(observe.lines().stream().allMatch(l -> l.matches("\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[node-\\d\\]: .*")),
                "sluice observe through the relay names each line's node:\n" + observe.out());
        CliRun status2 = CliRun.of(lab, "status");
        assertTrue(status2.out().contains("Hubble Relay:            Ok (pid " + relay.pid() + ")"), status2.out());
    }

    /** protobuf's JSON drops trailing zeros of the fraction; padded to nanoseconds, the texts order as the times do. */
    private static String normalized(String rfc3339) {
        String s = rfc3339.substring(0, rfc3339.length() - 1); // the Z
        int dot = s.indexOf('.');
        String fraction = dot < 0 ? "" : s.substring(dot + 1);
        return (dot < 0 ? s : s.substring(0, dot)) + "." + (fraction + "000000000").substring(0, 9);
    }

    @Test
    @Order(3)
    void followGoesOnThroughAKilledAgentAndTakesItBack() throws Exception {
        LabState.PodState client = lab.pod("deploy/client");
        LabState.PodState server = lab.pod("deploy/product-service-v1");
        // The victim: a node with neither end of the traffic, or else the server's (its flows stop; the client's go on).
        String victim = nodeNames().stream().filter(n -> !n.equals(client.node()) && !n.equals(server.node())).findFirst()
                .orElse(server.node().equals(client.node()) ? nodeNames().stream().filter(n -> !n.equals(client.node())).findFirst().orElseThrow()
                        : server.node());
        ManagedChannel channel = Grpc.newChannelBuilder("unix://" + relay().socket(), InsecureChannelCredentials.create()).build();
        BlockingQueue<GetFlowsResponse> got = new LinkedBlockingQueue<>();
        Context.CancellableContext call = Context.current().withCancellation();
        Thread reader = Thread.ofPlatform().daemon().start(() -> call.run(() -> {
            try {
                ObserverGrpc.newBlockingStub(channel).getFlows(GetFlowsRequest.newBuilder().setNumber(0).setFollow(true).build())
                        .forEachRemaining(got::add);
            } catch (RuntimeException ignored) {
                // cancelled at the end
            }
        }));
        try {
            NetNs from = NetNs.existing(client.netns());
            assertEquals(Outcome.CONNECTED, PodProbe.tcp(from, server.ip(), 50051, 2000));
            List<GetFlowsResponse> before = await(got, 1, null);
            assertOrdered(before);

            // The victim's supervisor first (it would start the agent again), then the agent: PIDs the lab started.
            LabState.AgentState agent = lab.state().agents().stream().filter(a -> a.node().equals(victim)).findFirst().orElseThrow();
            long agentPid = Lab.supervision(agent).orElseThrow().agentPid();
            kill(agent.pid());
            kill(agentPid);

            List<GetFlowsResponse> during = await(got, 0, NodeState.NODE_UNAVAILABLE);
            assertTrue(during.stream().anyMatch(r -> r.hasNodeStatus() && r.getNodeStatus().getNodeNamesList().equals(List.of(victim))),
                    "the stream says which node went: " + during);
            ServerStatusResponse status = ObserverGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .serverStatus(ServerStatusRequest.getDefaultInstance());
            assertEquals(List.of(victim), status.getUnavailableNodesList(), status.toString());
            assertEquals(nodes() - 1, status.getNumConnectedNodes().getValue(), status.toString());
            // The stream goes on: new connections, flows of the nodes still up.
            assertEquals(Outcome.CONNECTED, PodProbe.tcp(from, server.ip(), 50051, 2000));
            List<GetFlowsResponse> after = await(got, 1, null);
            assertOrdered(after);

            lab.restartAgent(victim);
            List<GetFlowsResponse> back = await(got, 0, NodeState.NODE_CONNECTED);
            assertTrue(back.stream().anyMatch(r -> r.hasNodeStatus() && r.getNodeStatus().getStateChange() == NodeState.NODE_CONNECTED
                    && r.getNodeStatus().getNodeNamesList().equals(List.of(victim))), back.toString());
            ServerStatusResponse again = ObserverGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .serverStatus(ServerStatusRequest.getDefaultInstance());
            assertEquals(nodes(), again.getNumConnectedNodes().getValue(), again.toString());
        } finally {
            call.cancel(null);
            reader.join(5000);
            channel.shutdownNow();
        }
    }

    private static void kill(long pid) throws Exception {
        ProcessHandle process = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("process " + pid + " is gone already"));
        process.destroyForcibly();
        process.onExit().get(10, TimeUnit.SECONDS);
    }

    /** What arrives until at least {@code flows} flows and (if given) a node status of {@code state} did, within 60 s. */
    private static List<GetFlowsResponse> await(BlockingQueue<GetFlowsResponse> got, int flows, NodeState state) throws InterruptedException {
        List<GetFlowsResponse> seen = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            GetFlowsResponse r = got.poll(100, TimeUnit.MILLISECONDS);
            if (r != null) {
                seen.add(r);
            }
            long n = seen.stream().filter(GetFlowsResponse::hasFlow).count();
            boolean stated = state == null || seen.stream().anyMatch(x -> x.hasNodeStatus() && x.getNodeStatus().getStateChange() == state);
            if (n >= flows && stated && (r == null || state != null)) {
                return seen;
            }
        }
        throw new AssertionError("within 60 s, not " + flows + " flow(s)" + (state == null ? "" : " and " + state) + ": " + seen);
    }

    private static void assertOrdered(List<GetFlowsResponse> responses) {
        long previous = Long.MIN_VALUE;
        for (GetFlowsResponse r : responses) {
            if (r.hasFlow()) {
                long t = com.google.protobuf.util.Timestamps.toNanos(r.getFlow().getTime());
                assertTrue(t >= previous, "time order in the followed stream");
                previous = t;
            }
        }
    }
}
