package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.datapath.policy.PolicyStructs;
import dev.sluice.datapath.sockmap.SockmapMaps;
import dev.sluice.datapath.sockmap.SockmapStructs.Counters;
import dev.sluice.datapath.sockmap.SockmapStructs.SockKey;
import dev.sluice.lab.Lab;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.linux.JavaCommand;
import dev.sluice.model.Desired;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same-node socket bypass in a two-node lab, with real pods and checksummed transfers (`sluice transfer`, run
 * inside the pods: their cgroup is where the sockops program sits): bulk both ways, many connections at once,
 * half-close (every transfer ends with one: the server's digest follows the client's FIN) and reset, entries gone at
 * teardown, another node's pod untouched, a Service VIP bypassed, the L7 proxy's connections never bypassed, and
 * the open-connection policy scenarios with the same outcomes as in a lab whose bypass is off.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SocketBypassLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PORT = 7000;
    private static final long MB = 1 << 20;
    private Lab lab;
    private Path dir;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        dir = Files.createTempDirectory("sockmap-lab");
        lab = TestLabs.create("sb");
        Path pods = dir.resolve("pods.yaml");
        Files.writeString(pods, pods(true));
        Path values = dir.resolve("values.yaml");
        Files.writeString(values, """
                kubeProxyReplacement: strict
                socketLB:
                  enabled: true
                serviceMesh:
                  enabled: true
                hubble:
                  enabled: true
                """);
        lab.up(2, ManifestReader.read(List.of(pods, LabTest.SEED)), values);
        lab.apply(ManifestReader.read(List.of(LabTest.ROOT.resolve("examples/seed/canary-routing.yaml"))));
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    /** a (client) and b (server) on node-1, c (server) on node-2, Service b-svc:7100 -> b:7000. */
    private static String pods(boolean withRemote) {
        String server = JSON.valueToTree(JavaCommand.sluice("transfer-server", "--port", Integer.toString(PORT))).toString();
        StringBuilder y = new StringBuilder();
        y.append(pod("a", "node-1", "[\"sleep\", \"infinity\"]", false));
        y.append(pod("b", "node-1", server, true));
        if (withRemote) {
            y.append(pod("c", "node-2", server, true));
        }
        y.append("""
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: b-svc}
                spec:
                  selector: {app: b}
                  ports:
                  - port: 7100
                    targetPort: 7000
                """);
        return y.toString();
    }

    private static String pod(String name, String node, String command, boolean listens) {
        return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", labels: {app: " + name + "}}\nspec:\n  nodeName: " + node
                + "\n  containers:\n  - name: " + name + "\n    image: sluice/toolbox\n    command: " + command + "\n"
                + (listens ? "    ports:\n    - containerPort: " + PORT + "\n" : "");
    }

    // ---- helpers ----

    private static SockmapMaps maps(Lab lab, String node) {
        SockmapMaps maps = SockmapMaps.openPinned(lab.layout(node).maps());
        assertTrue(maps != null, "node " + node + " has the socket-bypass maps");
        return maps;
    }

    private static Counters counters(Lab lab, String node) {
        try (SockmapMaps m = maps(lab, node)) {
            return m.counters();
        }
    }

    /** The node's count of sockets that fell back to the stack; 0 where the bypass never ran (no maps). */
    private static long fallbacks(Lab lab, String node) {
        try (SockmapMaps m = SockmapMaps.openPinned(lab.layout(node).maps())) {
            return m == null ? 0 : m.counters().fallbacks();
        }
    }

    private static boolean inMap(Lab lab, String node, SockKey key) {
        try (SockmapMaps m = maps(lab, node)) {
            return m.cookie(key).isPresent();
        }
    }

    private static SockKey key(String local, String remote) {
        return new SockKey(ip(local.substring(0, local.lastIndexOf(':'))), ip(remote.substring(0, remote.lastIndexOf(':'))),
                Integer.parseInt(local.substring(local.lastIndexOf(':') + 1)), Integer.parseInt(remote.substring(remote.lastIndexOf(':') + 1)));
    }

    private static Inet4Address ip(String s) {
        try {
            return (Inet4Address) InetAddress.getByName(s);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Runs `sluice transfer ARGS` in pod a; {@code onOpen} gets each "open" line as it comes (the connection is up
     * and idle then); returns the final lines, one per connection.
     */
    private static List<JsonNode> transfer(Lab lab, Consumer<JsonNode> onOpen, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("transfer"));
        cmd.addAll(List.of(args));
        Process p = lab.execAsync("a", JavaCommand.sluice(cmd.toArray(String[]::new)));
        List<JsonNode> done = new ArrayList<>();
        StringBuilder all = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            String line;
            while ((line = r.readLine()) != null) {
                all.append(line).append('\n');
                if (!line.startsWith("{")) {
                    continue;
                }
                JsonNode n = JSON.readTree(line);
                if (n.path("open").asBoolean()) {
                    onOpen.accept(n);
                } else {
                    done.add(n);
                }
            }
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "transfer ended:\n" + all);
        assertFalse(done.isEmpty(), "transfer printed its connections:\n" + all);
        return done;
    }

    private static void awaitGone(Lab lab, String node, SockKey key) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (inMap(lab, node, key) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertFalse(inMap(lab, node, key), key + " left the map once its connection was closed");
    }

    private String bIp() {
        return lab.pod("b").ip();
    }

    // ---- tests ----

    @Test
    @Order(1)
    void bulkTransfersBothWaysArriveIntactThroughTheBypassAndLeaveTheMapAtClose() throws Exception {
        String node = lab.pod("a").node();
        Counters before = counters(lab, node);
        List<SockKey> seen = new ArrayList<>();
        List<JsonNode> r = transfer(lab, open -> {
            SockKey k = key(open.path("local").asText(), open.path("remote").asText());
            assertTrue(inMap(lab, node, k), "client socket " + k + " is in the map while open");
            assertTrue(inMap(lab, node, k.peer()), "server socket " + k.peer() + " is in the map while open");
            seen.add(k);
        }, "--upload", Long.toString(64 * MB), "--download", Long.toString(64 * MB), "--hold", "2s", bIp() + ":" + PORT);
        JsonNode c = r.getFirst();
        assertTrue(c.path("ok").asBoolean() && c.path("uploadOk").asBoolean() && c.path("downloadOk").asBoolean(), c.toString());
        Counters after = counters(lab, node);
        long redirected = after.redirectedBytes() - before.redirectedBytes();
        System.out.printf("[SocketBypassLabTest] 64 MiB each way a -> b: %.1f MB/s, %d bytes redirected socket to socket, %d fallbacks%n",
                c.path("mbPerSec").asDouble(), redirected, after.fallbacks() - before.fallbacks());
        assertTrue(redirected >= 128 * MB, "both directions went through the bypass: " + redirected + " bytes redirected");
        assertEquals(1, seen.size());
        awaitGone(lab, node, seen.getFirst());
        awaitGone(lab, node, seen.getFirst().peer());
    }

    @Test
    @Order(2)
    void manyConcurrentConnectionsEachIntact() throws Exception {
        String node = lab.pod("a").node();
        Counters before = counters(lab, node);
        List<JsonNode> r = transfer(lab, n -> { }, "--connections", "100", "--upload", Long.toString(MB), "--download", Long.toString(MB),
                bIp() + ":" + PORT);
        assertEquals(100, r.size());
        List<String> failed = r.stream().filter(n -> !n.path("ok").asBoolean()).map(JsonNode::toString).toList();
        assertEquals(List.of(), failed);
        Counters after = counters(lab, node);
        System.out.printf("[SocketBypassLabTest] 100 concurrent connections, 1 MiB each way: %d socket(s) inserted, %d fell back%n",
                after.inserted() - before.inserted(), after.fallbacks() - before.fallbacks());
        assertEquals(200, after.inserted() - before.inserted(), "both ends of every connection were inserted");
        assertTrue(after.redirectedBytes() - before.redirectedBytes() >= 190 * MB, "nearly all bytes bypassed the stack");
        for (JsonNode n : r) {
            awaitGone(lab, node, key(n.path("local").asText(), n.path("remote").asText()));
        }
    }

    @Test
    @Order(3)
    void aResetConnectionLeavesTheMapOnBothEnds() throws Exception {
        String node = lab.pod("a").node();
        List<SockKey> seen = new ArrayList<>();
        List<JsonNode> r = transfer(lab, open -> {
            SockKey k = key(open.path("local").asText(), open.path("remote").asText());
            assertTrue(inMap(lab, node, k) && inMap(lab, node, k.peer()), "both ends in the map while open");
            seen.add(k);
        }, "--upload", Long.toString(MB), "--download", Long.toString(MB), "--hold", "1s", "--reset", bIp() + ":" + PORT);
        assertTrue(r.getFirst().path("ok").asBoolean(), r.toString());
        awaitGone(lab, node, seen.getFirst());
        awaitGone(lab, node, seen.getFirst().peer());
        String port = Integer.toString(seen.getFirst().localPort());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        String served = "";
        while (System.nanoTime() < deadline && !served.contains("reset")) {
            served = Files.readAllLines(lab.logs("b").getFirst()).stream().filter(l -> l.contains(":" + port + "\"")).findFirst().orElse("");
            Thread.sleep(100);
        }
        assertTrue(served.contains("Connection reset"), "the server saw the reset: " + served);
    }

    @Test
    @Order(4)
    void aConnectionToAnotherNodeIsNotBypassed() throws Exception {
        String node = lab.pod("a").node();
        assertFalse(node.equals(lab.pod("c").node()));
        Counters before = counters(lab, node);
        List<SockKey> seen = new ArrayList<>();
        List<JsonNode> r = transfer(lab, open -> {
            SockKey k = key(open.path("local").asText(), open.path("remote").asText());
            assertFalse(inMap(lab, node, k), k + " (to another node) is not in the map");
            assertFalse(inMap(lab, lab.pod("c").node(), k.peer()), "nor is its server's socket on the other node");
            seen.add(k);
        }, "--upload", Long.toString(4 * MB), "--download", Long.toString(4 * MB), "--hold", "1s", lab.pod("c").ip() + ":" + PORT);
        assertTrue(r.getFirst().path("ok").asBoolean(), r.toString());
        assertEquals(1, seen.size());
        Counters after = counters(lab, node);
        assertEquals(0, after.inserted() - before.inserted());
        assertEquals(0, after.redirectedBytes() - before.redirectedBytes());
    }

    @Test
    @Order(5)
    void aServiceVipConnectionBetweenPodsOfTheNodeIsBypassed() throws Exception {
        String node = lab.pod("a").node();
        String vip = lab.state().clusterIps().get("default/b-svc");
        Counters before = counters(lab, node);
        List<SockKey> seen = new ArrayList<>();
        List<JsonNode> r = transfer(lab, open -> seen.add(key(open.path("local").asText(), bIp() + ":" + PORT)),
                "--upload", Long.toString(8 * MB), "--download", Long.toString(8 * MB), "--hold", "1s", vip + ":7100");
        assertTrue(r.getFirst().path("ok").asBoolean(), r.toString());
        Counters after = counters(lab, node);
        assertEquals(2, after.inserted() - before.inserted(), "both ends of the connection through " + vip + ":7100 were inserted");
        assertTrue(after.redirectedBytes() - before.redirectedBytes() >= 16 * MB);
        assertEquals(1, seen.size());
    }

    @Test
    @Order(6)
    void theL7ProxysConnectionsAreNeverBypassed() throws Exception {
        String node = lab.pod("a").node();
        Counters before = counters(lab, node);
        var result = lab.execCapture("a", JavaCommand.sluice("call", "--same-connection", "-n", "200", "-o", "json", "product-service:50051"));
        List<String> calls = result.stdout().lines().filter(l -> l.startsWith("{")).toList();
        List<String> failed = calls.stream().filter(l -> !l.contains("\"ok\":true")).toList();
        assertEquals(200, calls.size(), result.stdout() + result.stderr());
        assertEquals(List.of(), failed, "every call through the proxy answered");
        Counters after = counters(lab, node);
        assertEquals(0, after.inserted() - before.inserted(), "no socket of the proxied connection was inserted");
        assertEquals(0, after.redirectedMsgs() - before.redirectedMsgs());
        String proxy = status(lab, node, "Proxy");
        assertTrue(proxy.contains("default/product-service:50051"), "the calls went through the proxy: " + proxy);
    }

    @Test
    @Order(7)
    void statusCliAndObserveShowTheBypass() {
        String node = lab.pod("a").node();
        String line = status(lab, node, "Socket bypass");
        assertTrue(line.startsWith("Ok, "), line);
        CliRun list = sluice("bpf", "sockmap", "list");
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().contains(node + ": ") && list.out().contains("redirected"), list.out());
        CliRun observe = sluice("observe", "--last", "2000");
        assertEquals(0, observe.exit(), observe.err());
        List<String> bypassed = observe.out().lines().filter(l -> l.contains("sock-bypass")).toList();
        System.out.println("[SocketBypassLabTest] e.g. " + (bypassed.isEmpty() ? "(none)" : bypassed.getFirst()));
        assertTrue(bypassed.stream().anyMatch(l -> l.contains("default/a") && l.contains("default/b")),
                "bypassed connections are marked in observe:\n" + observe.out().lines().limit(30).toList());
    }

    @Test
    @Order(8)
    void openConnectionPolicyScenariosEndAsWithTheBypassOff() throws Exception {
        Map<String, Boolean> on = scenarios(lab);
        Lab off = TestLabs.create("sbo");
        try {
            Path pods = dir.resolve("pods-off.yaml");
            Files.writeString(pods, pods(false));
            Path values = dir.resolve("values-off.yaml");
            Files.writeString(values, "sockops:\n  enabled: false\n");
            off.up(1, ManifestReader.read(List.of(pods)), values);
            String line = status(off, off.pod("a").node(), "Socket bypass");
            assertTrue(line.startsWith("Disabled: sockops.enabled is false"), line);
            Map<String, Boolean> without = scenarios(off);
            System.out.println("[SocketBypassLabTest] open-connection scenarios, bypass on: " + on + ", off: " + without);
            assertEquals(without, on, "the same outcomes with the bypass on and off");
            assertTrue(denyFallbacks.get(lab.name()) >= 1, "with the bypass on, the deny reached the open connection through the"
                    + " bypass's re-check (a socket fell back to the stack): " + denyFallbacks);
            assertEquals(0L, denyFallbacks.get(off.name()), "and nothing went through a bypass that is off");
            assertEquals(Map.of("policy denies while open: cut", false, "policy denies while open, lifted during the next round: resumes", true,
                    "CT lost while open, policy now denies: cut", false, "CT lost while open, policy allows: carries on", true), without,
                    "and the tc path's outcomes are the expected ones");
        } finally {
            TestLabs.down(off);
        }
    }

    /**
     * Each scenario's outcome: whether the open connection's second round (after the change) completed. The policy is
     * re-checked for established flows (bpf/pod_policy.bpf.c, "Why the re-check"; the bypass: sock_bypass.bpf.c), so
     * a deny applied while open cuts the connection, and lifting it while the client retransmits resumes it.
     */
    /** By lab: the sockets that fell back to the stack during the first scenario (a deny applied while open). */
    private final Map<String, Long> denyFallbacks = new java.util.HashMap<>();

    private Map<String, Boolean> scenarios(Lab l) throws Exception {
        Path file = dir.resolve("deny-" + l.name() + ".yaml");
        Files.writeString(file, PolicyLabTest.cnp("deny-a", "  endpointSelector: {matchLabels: {app: b}}\n  ingress:\n  - fromEntities: [all]\n"
                + "  ingressDeny:\n  - fromEndpoints: [{matchLabels: {app: a}}]\n"));
        Desired deny = ManifestReader.read(List.of(file));
        Map<String, Boolean> out = new LinkedHashMap<>();
        String node = l.pod("a").node();
        long before = fallbacks(l, node);
        out.put("policy denies while open: cut", scenario(l, deny, false, false));
        // Where the bypass runs, the cut came from sk_msg's re-check: the open socket fell back to the stack there.
        denyFallbacks.put(l.name(), fallbacks(l, node) - before);
        out.put("policy denies while open, lifted during the next round: resumes", scenario(l, deny, false, true));
        out.put("CT lost while open, policy now denies: cut", scenario(l, deny, true, false));
        out.put("CT lost while open, policy allows: carries on", scenario(l, null, true, false));
        return out;
    }

    private boolean scenario(Lab l, Desired policy, boolean dropConntrack, boolean lift) throws Exception {
        String node = l.pod("a").node();
        String b = l.pod("b").ip();
        java.util.concurrent.atomic.AtomicBoolean applied = new java.util.concurrent.atomic.AtomicBoolean();
        Thread lifter = null;
        try {
            Thread[] started = new Thread[1];
            List<JsonNode> r = transfer(l, open -> {
                if (policy != null) {
                    l.apply(policy);
                    applied.set(true);
                    // The policy is in force: a new connection is refused (dropped) whatever the bypass does.
                    try {
                        List<JsonNode> fresh = transfer(l, n -> { }, "--upload", "1000", "--timeout", "1s", b + ":" + PORT);
                        assertFalse(fresh.getFirst().path("ok").asBoolean(), "a new connection is dropped: " + fresh);
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                    if (lift) {
                        // Lifted 2 s into the second round (which starts after the 3 s pause), while the client retransmits.
                        started[0] = Thread.ofVirtual().start(() -> {
                            try {
                                Thread.sleep(4_000);
                                if (applied.compareAndSet(true, false)) {
                                    l.delete(policy);
                                }
                            } catch (Exception e) {
                                throw new RuntimeException(e);
                            }
                        });
                    }
                }
                if (dropConntrack) {
                    dropConntrack(l, node, key(open.path("local").asText(), b + ":" + PORT));
                }
            }, "--rounds", "2", "--pause", "3s", "--upload", Long.toString(MB), "--download", Long.toString(MB), "--timeout",
                    lift ? "20s" : "3s", b + ":" + PORT);
            lifter = started[0];
            return r.getFirst().path("ok").asBoolean();
        } finally {
            if (lifter != null) {
                lifter.join();
            }
            if (policy != null && applied.compareAndSet(true, false)) {
                l.delete(policy);
            }
        }
    }

    /** Deletes both endpoints' policy CT entries of the connection, as an eviction or a collection would. */
    private static void dropConntrack(Lab l, String node, SockKey client) {
        for (String table : List.of(PolicyStructs.MAP_CT, PolicyStructs.MAP_CT_NEW)) {
            try (BpfMap map = BpfMap.openPinned(l.layout(node).maps().resolve(table))) {
                var ct = map.typed(PolicyStructs.Ct4Tuple.CODEC, PolicyStructs.Ct4Entry.CODEC);
                for (int direction : List.of(0, 1)) {
                    ct.delete(new PolicyStructs.Ct4Tuple(client.local(), client.remote(), client.localPort(), client.remotePort(), 6, direction));
                }
            }
        }
    }

    private static String status(Lab l, String node, String key) {
        AgentStatus s = StatusFile.read(l.layout(node).statusFile()).orElseThrow();
        return s.lines().stream().filter(x -> x.key().equals(key)).map(AgentStatus.Line::value).findFirst().orElse("(none)");
    }

    private CliRun sluice(String... args) {
        return CliRun.of(lab, args);
    }
}
