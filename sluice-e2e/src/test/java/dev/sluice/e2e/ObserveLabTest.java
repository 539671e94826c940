package dev.sluice.e2e;

import dev.sluice.agent.api.StatusFile;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.datapath.abi.DropReason;
import dev.sluice.e2e.PodProbe.Outcome;
import dev.sluice.linux.JavaCommand;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.Command;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ManifestReader;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.Verdict;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seed's debugging story in a two-node lab, told by flows: the client allowed by the policy and the
 * rogue pod denied by it both call product-service, with real gRPC calls from inside the pods, and
 * `sluice observe` (every node at once) shows who was forwarded and who was dropped, by which policy.
 * The lab's flow-event ring buffer is small (8 KiB) so that the last test can overfill it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ObserveLabTest {
    private static final String POLICY = "CiliumNetworkPolicy default/product-service-from-client";
    private Lab lab;
    private Path dir;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("observe-lab");
        Path values = Files.writeString(dir.resolve("values.yaml"), """
                hubble:
                  enabled: true
                  relay: {enabled: true}
                bpf:
                  monitorAggregation: low
                  eventsRingBytes: 8192
                """);
        lab = TestLabs.create("o");
        lab.up(2, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT, LabTest.ROOT.resolve("examples/demo/policy.yaml"),
                LabTest.ROOT.resolve("examples/demo/rogue.yaml"))), values);
    }

    @AfterAll
    void down() throws Exception {
        if (lab != null) {
            TestLabs.down(lab);
        }
        if (dir != null) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
        }
    }

    private CliRun sluice(String... args) {
        return CliRun.of(lab, args);
    }

    private Command.Result inPod(String deployment, String... args) {
        return lab.execCapture("deploy/" + deployment, JavaCommand.sluice(args));
    }

    private LabState.PodState pod(String deployment) {
        return lab.pod("deploy/" + deployment);
    }

    @Test
    @Order(1)
    void theSeedsStoryForwardedForTheClientDroppedForTheRogueNamingThePolicy() {
        Command.Result client = inPod("client", "call", "--grpc", "-n", "4", "product-service:50051");
        assertEquals(0, client.exitCode(), client.stdout() + client.stderr());
        Command.Result rogue = inPod("some-rogue-pod", "call", "--grpc", "-n", "1", "--timeout", "1s", "product-service:50051");
        assertNotEquals(0, rogue.exitCode(), "the rogue pod is denied: " + rogue.stdout());

        CliRun observe = sluice("observe", "--to-service", "product-service", "-n", "default", "--last", "200");
        assertEquals(0, observe.exit(), observe.err());
        System.out.println("sluice observe --to-service product-service -n default:\n" + observe.out());
        String clientPod = "default/" + pod("client").name();
        String roguePod = "default/" + pod("some-rogue-pod").name();
        List<String> forwarded = observe.lines().stream()
                .filter(l -> l.contains(": " + clientPod + ":") && l.contains(" -> default/product-service-v") && l.contains(" FORWARDED ("))
                .toList();
        assertTrue(forwarded.size() >= 8, "each of 4 connections forwarded at the client's and the server's veth:\n" + observe.out());
        List<String> dropped = observe.lines().stream()
                .filter(l -> l.contains(": " + roguePod + ":") && l.contains(" -> default/product-service-v")
                        && l.contains(" DROPPED (Policy denied on ingress by " + POLICY + "; TCP Flags: SYN)"))
                .toList();
        assertFalse(dropped.isEmpty(), "the rogue's SYN dropped, naming the policy:\n" + observe.out());
        assertTrue(observe.lines().stream().noneMatch(l -> l.contains(clientPod) && l.contains("DROPPED")), observe.out());
        assertTrue(observe.lines().stream().allMatch(l -> l.matches("\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[node-[12]\\]: .*")),
                "every line names its node:\n" + observe.out());

        // JSON carries the whole story: the verdict, the reason, the policy and the rule.
        Flow drop = sluice("observe", "--verdict", "DROPPED", "--from-pod", roguePod, "-o", "json").flows().getLast();
        assertEquals(DropReason.POLICY.value(), drop.getDropReason());
        assertEquals("product-service-from-client", drop.getPolicy().getName());
        assertEquals("endpointSelector", drop.getPolicy().getRule());
        assertEquals("product-service", drop.getDestinationService().getName());
        assertTrue(drop.getSource().getLabelsList().contains("k8s:app=rogue"), drop.getSource().toString());
        assertEquals(pod("some-rogue-pod").ip(), drop.getIP().getSource());
    }

    @Test
    @Order(2)
    void followShowsANewFlowWithinOneSecond() throws Exception {
        LabState.PodState client = pod("client");
        LabState.PodState target = pod("product-service-v1");
        StringWriter out = new StringWriter();
        CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(new StringWriter()));
        Thread following = Thread.ofPlatform().start(() -> cli.execute("observe", "--follow", "--last", "0", "--since", "1s",
                "--from-pod", "default/" + client.name(), "--verdict", "FORWARDED", "-o", "json", "--lab", lab.name()));
        try {
            Thread.sleep(1000); // the streams are open
            int before = (int) out.toString().lines().count();
            long start = System.nanoTime();
            assertEquals(Outcome.CONNECTED, PodProbe.tcp(NetNs.existing(client.netns()), target.ip(), 50051, 2000));
            long deadline = start + 3_000_000_000L;
            while (out.toString().lines().count() == before && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(out.toString().lines().count() > before, "no flow followed within 3 s");
            System.out.println("observe --follow: a new connection's flow printed " + ms + " ms after connect()");
            assertTrue(ms < 1000, "printed after " + ms + " ms");
        } finally {
            following.interrupt();
            following.join(5000);
        }
        assertFalse(following.isAlive());
    }

    /** Each flag against the lab's real flows: the CLI's answer equals the flows a plain predicate picks. */
    @Test
    @Order(3)
    void everyFilterFlagPicksExactlyTheFlowsItShould() throws Exception {
        // UDP, a reply direction (aggregation low reports the first reply) and a second node's flows.
        LabState.PodState client = pod("client");
        assertEquals(Outcome.REFUSED, PodProbe.udp(NetNs.existing(pod("some-rogue-pod").netns()), client.ip(), 5353, 800),
                "UDP to a pod no policy selects, where nobody listens, is refused");
        // The Service's random choice may have left v2 out so far: a connection to it by address, so that the
        // flags about v2 have flows to pick.
        assertEquals(Outcome.CONNECTED, PodProbe.tcp(NetNs.existing(client.netns()), pod("product-service-v2").ip(), 50051, 2000));
        // Nothing new from here on: the snapshot and the filtered answers see the same ring.
        Thread.sleep(300);
        List<Flow> all = sluice("observe", "--last", "4095", "-o", "json").flows();
        assertTrue(all.size() > 20, all.size() + " flows");
        String clientPod = "default/" + client.name();
        String roguePod = "default/" + pod("some-rogue-pod").name();
        Map<List<String>, Predicate<Flow>> cases = new java.util.LinkedHashMap<>();
        cases.put(List.of("--from-pod", clientPod), f -> pod(f.getSource()).equals(clientPod));
        cases.put(List.of("--to-pod", "product-service-v2"), f -> pod(f.getDestination()).startsWith("default/product-service-v2"));
        cases.put(List.of("--pod", roguePod), f -> pod(f.getSource()).equals(roguePod) || pod(f.getDestination()).equals(roguePod));
        cases.put(List.of("--from-label", "app=client"), f -> f.getSource().getLabelsList().contains("k8s:app=client"));
        cases.put(List.of("--to-label", "k8s:version=v2"), f -> f.getDestination().getLabelsList().contains("k8s:version=v2"));
        cases.put(List.of("--to-service", "product-service"), f -> f.getDestinationService().getName().equals("product-service"));
        cases.put(List.of("--from-service", "default/product-service"), f -> f.getSourceService().getName().equals("product-service"));
        // Probes from the node (identity host) to a pod have one side outside any namespace.
        cases.put(List.of("-n", "default"), f -> f.getSource().getNamespace().equals("default") || f.getDestination().getNamespace().equals("default"));
        // Cluster DNS's pod is in kube-system: the node's readiness probes to it, at least.
        cases.put(List.of("-n", "kube-system"), f -> f.getSource().getNamespace().equals("kube-system") || f.getDestination().getNamespace().equals("kube-system"));
        cases.put(List.of("--verdict", "DROPPED"), f -> f.getVerdict() == Verdict.DROPPED);
        cases.put(List.of("--verdict", "TRANSLATED"), f -> f.getVerdict() == Verdict.TRANSLATED);
        cases.put(List.of("--drop-reason", "policy denied"), f -> f.getDropReasonDesc().equals("Policy denied"));
        cases.put(List.of("--protocol", "udp"), f -> f.getL4().hasUDP());
        cases.put(List.of("--protocol", "tcp"), f -> f.getL4().hasTCP());
        cases.put(List.of("--port", "50051"), f -> f.getL4().getTCP().getDestinationPort() == 50051 || f.getL4().getTCP().getSourcePort() == 50051
                || f.getL4().getUDP().getDestinationPort() == 50051 || f.getL4().getUDP().getSourcePort() == 50051);
        cases.put(List.of("--node", "node-2"), f -> f.getNodeName().equals("node-2"));
        cases.put(List.of("--node", "node-*", "--verdict", "FORWARDED", "--protocol", "udp"),
                f -> f.getVerdict() == Verdict.FORWARDED && f.getL4().hasUDP());
        cases.put(List.of("--type", "drop"), f -> f.getEventType().equals("drop"));
        cases.put(List.of("-t", "trace-sock"), f -> f.getEventType().equals("trace-sock"));
        cases.put(List.of("--from-ip", client.ip()), f -> f.getIP().getSource().equals(client.ip()));
        String v2Net = pod("product-service-v2").ip().substring(0, pod("product-service-v2").ip().lastIndexOf('.') + 1);
        cases.put(List.of("--to-ip", v2Net + "0/24"), f -> f.getIP().getDestination().startsWith(v2Net));
        int clientIdentity = all.stream().filter(f -> pod(f.getSource()).equals(clientPod)).findFirst().orElseThrow().getSource().getIdentity();
        cases.put(List.of("--from-identity", Integer.toString(clientIdentity)), f -> f.getSource().getIdentity() == clientIdentity);
        int rogueIdentity = all.stream().filter(f -> pod(f.getSource()).equals(roguePod)).findFirst().orElseThrow().getSource().getIdentity();
        cases.put(List.of("--identity", Integer.toString(rogueIdentity)),
                f -> f.getSource().getIdentity() == rogueIdentity || f.getDestination().getIdentity() == rogueIdentity);
        cases.put(List.of("--traffic-direction", "ingress"), f -> f.getTrafficDirection() == dev.sluice.observe.v1.TrafficDirection.INGRESS);
        cases.put(List.of("--not", "--type", "trace", "--not", "--from-pod", clientPod),
                f -> !(f.getEventType().equals("trace") && pod(f.getSource()).equals(clientPod)));
        cases.put(List.of("--http-status", "5+"), f -> false); // no L7 flows without the proxy
        cases.put(List.of("--http-method", "GET"), f -> false);
        cases.put(List.of("--http-path", "/.*"), f -> false);
        List<String> failures = new ArrayList<>();
        Flow last = all.getLast();
        for (var c : cases.entrySet()) {
            List<String> args = new ArrayList<>(List.of("observe", "--last", "4095", "-o", "json"));
            args.addAll(c.getKey());
            // Only the snapshot's flows: the kernel keeps sending on its own (IPv6 router solicitations back off
            // from 4 s, and are dropped where policy is enforced), so a flow may arrive between two queries.
            List<Flow> got = sluice(args.toArray(String[]::new)).flows().stream().filter(f -> !after(f, last)).toList();
            List<Flow> expected = all.stream().filter(c.getValue()).toList();
            if (!got.equals(expected)) {
                failures.add(c.getKey() + ": got " + got.size() + " flows, expected " + expected.size());
            }
            // Every flag but the namespace and HTTP ones must split the lab's flows, or it is not really tested.
            boolean mustSplit = !c.getKey().getFirst().equals("-n") && !c.getKey().getFirst().startsWith("--http");
            if (mustSplit && (expected.isEmpty() || expected.size() == all.size())) {
                failures.add(c.getKey() + ": the lab's flows do not test it (" + expected.size() + " of " + all.size() + " match)");
            }
        }
        assertEquals(List.of(), failures);
        // --last and --since on the same flows
        // (the kernel and the DNS pod's readiness probes keep adding flows: --last 5 must be five consecutive
        // flows of the ring, ending with the newest at its time, and a later snapshot must hold them in that order)
        List<Flow> lastFive = sluice("observe", "--last", "5", "-o", "json").flows();
        assertEquals(5, lastFive.size());
        List<Flow> later = sluice("observe", "--last", "4095", "-o", "json").flows();
        int end = later.indexOf(lastFive.getLast());
        assertTrue(end >= 4, "the newest of --last 5 is in a later snapshot");
        assertEquals(later.subList(end - 4, end + 1), lastFive);
        assertTrue(!after(all.getLast(), lastFive.getLast()), "--last 5 is not older than the earlier snapshot");
        assertEquals(List.of(), sluice("observe", "--until", "1h", "-o", "json").flows(), "nothing is an hour old");
        // -o json parses back to exactly the flows the node's Observer API returns.
        Path socket = lab.layout("node-1").observerSocket();
        io.grpc.ManagedChannel channel = io.grpc.Grpc.newChannelBuilder("unix://" + socket, io.grpc.InsecureChannelCredentials.create()).build();
        try {
            List<Flow> fromApi = new ArrayList<>();
            dev.sluice.observe.v1.ObserverGrpc.newBlockingStub(channel)
                    .getFlows(dev.sluice.observe.v1.GetFlowsRequest.newBuilder().setNumber(4095).build())
                    .forEachRemaining(r -> fromApi.add(r.getFlow()));
            assertFalse(fromApi.isEmpty());
            assertEquals(fromApi, sluice("observe", "--server", "unix://" + socket, "--last", "4095", "-o", "json").flows());
            var status = dev.sluice.observe.v1.ObserverGrpc.newBlockingStub(channel)
                    .serverStatus(dev.sluice.observe.v1.ServerStatusRequest.getDefaultInstance());
            assertEquals(fromApi.size(), status.getNumFlows());
            assertEquals(4095, status.getMaxFlows());
            assertTrue(status.getSeenFlows() >= status.getNumFlows() && status.getUptimeNs() > 0, status.toString());
        } finally {
            channel.shutdownNow();
        }
        // The table has a row per flow.
        CliRun table = sluice("observe", "--last", "10", "-o", "table");
        assertEquals(11, table.lines().size(), table.out());
        assertTrue(table.lines().getFirst().startsWith("TIMESTAMP             NODE"), table.lines().getFirst());
    }

    private static boolean after(Flow f, Flow last) {
        return f.getTime().getSeconds() > last.getTime().getSeconds()
                || f.getTime().getSeconds() == last.getTime().getSeconds() && f.getTime().getNanos() > last.getTime().getNanos();
    }

    private static String pod(dev.sluice.observe.v1.Endpoint e) {
        return e.getPodName().isEmpty() ? "" : e.getNamespace() + "/" + e.getPodName();
    }

    /**
     * A flood of denied datagrams overfills the 8 KiB ring buffer: the events that find it full are lost
     * and counted (status and metrics), and allowed connections keep working meanwhile.
     */
    @Test
    @Order(4)
    void aFloodThatOverfillsTheRingBufferLosesEventsNotTraffic() throws Exception {
        LabState.PodState rogue = pod("some-rogue-pod");
        LabState.PodState client = pod("client");
        LabState.PodState target = pod("product-service-v1");
        Thread flood = Thread.ofPlatform().start(() -> NetNs.existing(rogue.netns()).call(() -> {
            try (DatagramSocket socket = new DatagramSocket()) {
                byte[] data = new byte[32];
                InetSocketAddress to = new InetSocketAddress(target.ip(), 50051);
                for (int i = 0; i < 200_000; i++) {
                    socket.send(new DatagramPacket(data, data.length, to));
                }
            }
            return null;
        }));
        int connected = 0;
        while (flood.isAlive()) {
            if (PodProbe.tcp(NetNs.existing(client.netns()), target.ip(), 50051, 1000) == Outcome.CONNECTED) {
                connected++;
            } else {
                throw new AssertionError("an allowed connection failed during the flood");
            }
        }
        flood.join();
        assertTrue(connected > 0, "connections made during the flood");
        Thread.sleep(500); // an agent round collects the losses

        String node = target.node();
        long lostInStatus = 0;
        for (int i = 0; i < 20 && lostInStatus == 0; i++) {
            Thread.sleep(100);
            AgentStatus status = StatusFile.read(lab.layout(node).statusFile()).orElseThrow();
            String hubble = status.lines().stream().filter(l -> l.key().equals("Hubble")).findFirst().orElseThrow().value();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("lost events: (\\d+)").matcher(hubble);
            assertTrue(m.find(), hubble);
            assertTrue(hubble.contains("Observer API on unix://") && hubble.contains(" and 127.0.0.1:4244"), hubble);
            lostInStatus = Long.parseLong(m.group(1));
        }
        CliRun metrics = sluice("metrics", "--node", node);
        assertEquals(0, metrics.exit(), metrics.err());
        String line = metrics.lines().stream().filter(l -> l.startsWith("hubble_lost_events_total{source=\"perf_event_ring_buffer\"}"))
                .findFirst().orElseThrow(() -> new AssertionError(metrics.out()));
        double lostInMetrics = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        System.out.printf("flood of 200000 denied datagrams: %d connections made meanwhile; lost events: %d (status), %.0f (metrics)%n",
                connected, lostInStatus, lostInMetrics);
        assertTrue(lostInStatus > 0, "status shows lost events");
        assertTrue(lostInMetrics > 0, "metrics show lost events");
        assertTrue(metrics.lines().stream().anyMatch(l -> l.startsWith("hubble_drop_total{protocol=\"UDP\",reason=\"POLICY_DENIED\"}")),
                metrics.out());
        // Agent health: maps' fill, programs attached, endpoints, as the agent knows them.
        for (String map : List.of("ct4_policy", "policy_entries", "lb4_services", "lb4_backends")) {
            assertTrue(metrics.lines().stream().anyMatch(l -> l.startsWith("sluice_bpf_map_pressure{map_name=\"" + map + "\"}")),
                    map + ":\n" + metrics.out());
        }
        assertTrue(metrics.lines().contains("sluice_bpf_map_entries{map_name=\"lb4_services\"} 9.0"),
                "one Service, its slot 0 and 4 backend slots; kube-dns's two ports, each its slot 0 and one backend slot:\n" + metrics.out());
        long local = lab.state().pods().stream().filter(p -> p.node().equals(node)).count();
        assertTrue(metrics.lines().contains("sluice_endpoints " + local + ".0"), metrics.out());
        assertTrue(metrics.lines().contains("sluice_bpf_programs_attached{program=\"pod_policy\"} " + 2 * local + ".0"), metrics.out());
        assertEquals(Outcome.CONNECTED, PodProbe.tcp(NetNs.existing(client.netns()), target.ip(), 50051, 1000));
    }

    /**
     * The rogue pod forges the client's address in a raw TCP SYN to product-service: source verification
     * drops it on the rogue's own veth, before any LB or policy decision, and `sluice observe` says so.
     */
    @Test
    @Order(5)
    void aSynForgingAnotherPodsAddressIsDroppedAsInvalidSourceIp() throws Exception {
        LabState.PodState rogue = pod("some-rogue-pod");
        LabState.PodState client = pod("client");
        LabState.PodState target = pod("product-service-v1");
        java.net.Inet4Address forged = (java.net.Inet4Address) java.net.InetAddress.getByName(client.ip());
        java.net.Inet4Address to = (java.net.Inet4Address) java.net.InetAddress.getByName(target.ip());
        int sport = 40_123;
        NetNs.existing(rogue.netns()).call(() -> {
            try (dev.sluice.testing.RawSockets raw = dev.sluice.testing.RawSockets.ip(dev.sluice.testing.RawSockets.IPPROTO_RAW)) {
                raw.sendTo(to, dev.sluice.testing.RawSockets.ipv4(forged, to, 6, 0x5150, 0,
                        dev.sluice.testing.RawSockets.tcpSyn(forged, to, sport, 50051, 7)));
            }
            return null;
        });
        List<String> lines = List.of();
        for (int i = 0; i < 50 && lines.isEmpty(); i++) {
            Thread.sleep(100);
            lines = sluice("observe", "--verdict", "DROPPED", "--last", "4095").lines().stream()
                    .filter(l -> l.contains("DROPPED (Invalid source ip")).toList();
        }
        assertFalse(lines.isEmpty(), "a forged SYN reported as Invalid source ip");
        System.out.println("sluice observe --verdict DROPPED, the forged SYN:\n" + String.join("\n", lines));
        assertTrue(lines.getLast().contains(client.ip() + ":" + sport) && lines.getLast().contains("TCP Flags: SYN"), lines.getLast());

        Flow drop = sluice("observe", "--verdict", "DROPPED", "--last", "4095", "-o", "json").flows().stream()
                .filter(f -> f.getDropReason() == 132).reduce((a, b) -> b).orElseThrow();
        assertEquals("Invalid source ip", drop.getDropReasonDesc());
        assertEquals(client.ip(), drop.getIP().getSource(), "the address it claimed");
        assertTrue(drop.getSource().getLabelsList().contains("k8s:app=rogue"), "named by the veth it came from: " + drop.getSource());
        assertEquals(Outcome.CONNECTED, PodProbe.tcp(NetNs.existing(client.netns()), target.ip(), 50051, 1000), "the client itself still connects");
    }
}
