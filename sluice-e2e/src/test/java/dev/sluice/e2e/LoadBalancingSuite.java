package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.linux.JavaCommand;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Command;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kube-proxy replacement in a two-node lab with the seed's product-service, driven by real traffic
 * from a client pod. Run once with socket LB and once per packet only ({@link #socketLb()}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
abstract class LoadBalancingSuite {
    static final Path ROOT = LabTest.ROOT;
    static final ObjectMapper JSON = new ObjectMapper();
    Lab lab;

    abstract boolean socketLb();

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        Path values = Files.createTempFile("values", ".yaml");
        Files.writeString(values, "kubeProxyReplacement: strict\nsocketLB:\n  enabled: " + socketLb() + "\n");
        lab = TestLabs.create((socketLb() ? "s" : "p"));
        Lab.Changes up = lab.up(2, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT, ROOT.resolve("examples/demo/udp-echo.yaml"))), values);
        System.out.printf("[%s] lab up: %d pods in %d ms%n", getClass().getSimpleName(), up.created().size(), up.millis());
        Files.delete(values);
        awaitProgrammed(4);
    }

    @AfterAll
    void down() {
        if (lab != null) {
            LabState state = lab.state();
            TestLabs.down(lab);
            assertFalse(Files.exists(Lab.pinRoot(lab.name())), "pins removed");
            assertFalse(Files.exists(Path.of(state.cgroupRoot())), "cgroups removed");
        }
    }

    /** Waits until the client's node serves product-service with {@code backends} backends. */
    void awaitProgrammed(int backends) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        String vip = lab.state().clusterIps().get("default/product-service");
        String node = lab.pod("deploy/client").node();
        while (System.currentTimeMillis() < deadline) {
            Command.Result r = Command.exec(JavaCommand.sluice("service", "list", "--lab", lab.name(), "--node", node));
            long n = r.stdout().lines().filter(l -> l.contains("=>")).filter(l -> l.contains(":50051/TCP (active)")).count();
            if (r.ok() && r.stdout().contains(vip + ":50051/TCP") && n == backends) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("product-service never had " + backends + " backends on the client's node");
    }

    JsonNode load(String... args) throws Exception {
        return loadFrom("deploy/client", args);
    }

    JsonNode loadFrom(String pod, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("load"));
        cmd.addAll(List.of(args));
        Command.Result r = lab.execCapture(pod, JavaCommand.sluice(cmd.toArray(String[]::new)));
        String json = r.stdout().lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow(() -> new AssertionError(r.stdout() + r.stderr()));
        return JSON.readTree(json);
    }

    Set<String> productPods() {
        Set<String> names = new TreeSet<>();
        lab.state().pods().stream().filter(p -> "product-service".equals(p.labels().get("app"))).forEach(p -> names.add(p.name()));
        return names;
    }

    @Test
    @Order(1)
    void grpcAndHttpThroughTheServiceNameReachEveryBackend() {
        Command.Result grpc = lab.execCapture("deploy/client", JavaCommand.sluice("call", "--grpc", "-n", "40", "product-service:50051"));
        assertEquals(0, grpc.exitCode(), grpc.stdout() + grpc.stderr());
        for (String pod : productPods()) {
            assertTrue(grpc.stdout().contains(pod), pod + " never answered over gRPC:\n" + grpc.stdout());
        }
        Command.Result http = lab.execCapture("deploy/client", JavaCommand.sluice("call", "--http", "-n", "40",
                "product-service.default.svc.cluster.local:50051"));
        assertEquals(0, http.exitCode(), http.stdout() + http.stderr());
        for (String pod : productPods()) {
            assertTrue(http.stdout().contains(pod), pod + " never answered over HTTP:\n" + http.stdout());
        }
    }

    /** Hairpin: a backend calling its own Service reaches every backend, itself included, with no failure. */
    @Test
    @Order(2)
    void aBackendReachesItselfThroughItsService() throws Exception {
        String self = lab.pod("deploy/product-service-v2").name();
        JsonNode s = loadFrom("deploy/product-service-v2", "--connections", "200", "product-service:50051");
        assertEquals(0, s.get("failures").asLong(), s.toString());
        assertTrue(s.get("byPod").has(self), "the pod answered itself too: " + s);
        assertEquals(productPods().size(), s.get("byPod").size(), "and every other backend: " + s);
    }

    @Test
    @Order(2)
    void fourThousandNewConnectionsShareFairly() throws Exception {
        JsonNode s = load("--connections", "4000", "product-service:50051");
        assertEquals(0, s.get("failures").asLong(), s.toString());
        Map<String, Long> byPod = new TreeMap<>();
        s.get("byPod").fields().forEachRemaining(e -> byPod.put(e.getKey(), e.getValue().asLong()));
        assertEquals(productPods(), byPod.keySet(), "every backend and nothing else");
        StringBuilder report = new StringBuilder();
        for (Map.Entry<String, Long> e : byPod.entrySet()) {
            double share = e.getValue() / 4000.0;
            report.append(String.format("%s %d (%.2f%%, %+.1f%% of a fair share) ", e.getKey(), e.getValue(), share * 100, (share / 0.25 - 1) * 100));
            // Fair share 25 % of connections, within +-5 percentage points.
            assertTrue(Math.abs(share - 0.25) <= 0.05, report.toString());
        }
        System.out.println("[" + getClass().getSimpleName() + "] 4000 connections: " + report);
    }

    /**
     * The seed's fortio command as {@code sluice bench} runs it in its client pod (short, at a small rate): gRPC
     * health checks and HTTP/1.1 GETs to product-service by name, through the Service's load balancing.
     * Counts and codes only; the run's latencies are the benchmark's business.
     */
    @Test
    @Order(3)
    void theLoadGeneratorRunsTheSeedsCommandInThePod() throws Exception {
        Command.Result grpc = lab.execCapture("deploy/client", JavaCommand.sluice(
                "load", "-grpc", "-qps", "100", "-t", "2s", "-c", "10", "-json", "-", "product-service:50051"));
        assertEquals(0, grpc.exitCode(), grpc.stdout() + grpc.stderr());
        JsonNode g = JSON.readTree(grpc.stdout());
        assertEquals(Map.of("SERVING", 200), JSON.convertValue(g.get("RetCodes"), Map.class), grpc.stderr());
        assertEquals(10, g.get("NumThreads").asInt());
        assertEquals(200, g.get("DurationHistogram").get("Count").asLong());
        assertEquals(200, g.get("Sluice").get("Uncorrected").get("Count").asLong());
        assertTrue(grpc.stderr().contains("Health SERVING : 200 (100.0 %)"), grpc.stderr());

        Command.Result http = lab.execCapture("deploy/client", JavaCommand.sluice(
                "load", "-qps", "50", "-t", "1s", "-c", "5", "-json", "-", "http://product-service:50051/"));
        assertEquals(0, http.exitCode(), http.stdout() + http.stderr());
        assertEquals(Map.of("200", 50), JSON.convertValue(JSON.readTree(http.stdout()).get("RetCodes"), Map.class));
    }

    @Test
    @Order(3)
    void udpThroughTheVipAnswersFromTheVip() throws Exception {
        String vip = lab.state().clusterIps().get("default/udp-echo");
        JsonNode s = load("--udp", "60", "udp-echo:53");
        assertEquals(0, s.get("failures").asLong(), s.toString());
        List<String> sources = new ArrayList<>();
        s.get("replySources").fieldNames().forEachRemaining(sources::add);
        assertEquals(List.of(vip + ":53"), sources, "the client sees every reply come from the ClusterIP");
        assertEquals(2, s.get("byPod").size(), "both UDP pods answered: " + s);
    }

    @Test
    @Order(4)
    void scalingDuringLoadBreaksNoConnectionToASurvivingPodAndNoNewOneReachesARemovedPod(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Process load = lab.execAsync("deploy/client", JavaCommand.sluice("load", "--keepalive", "12", "--duration", "6s", "product-service:50051"));
        Thread.sleep(1_500);
        Path down = dir.resolve("down.yaml");
        Files.writeString(down, Files.readString(LabTest.SEED).replace("replicas: 3", "replicas: 1"));
        Lab.Changes changes = lab.apply(ManifestReader.read(List.of(down)));
        Set<String> removed = new TreeSet<>(changes.deleted().stream().map(k -> k.substring(k.indexOf('/') + 1)).toList());
        assertEquals(2, removed.size());
        assertTrue(load.waitFor(30, TimeUnit.SECONDS));
        JsonNode s = JSON.readTree(new String(load.getInputStream().readAllBytes()).lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow());
        for (JsonNode c : s.get("keepalive")) {
            if (!removed.contains(c.get("pod").asText())) {
                assertEquals(0, c.get("failed").asLong(), "a connection to surviving pod " + c.get("pod") + " failed: " + c);
            }
        }
        JsonNode after = load("--connections", "300", "product-service:50051");
        assertEquals(0, after.get("failures").asLong(), after.toString());
        after.get("byPod").fieldNames().forEachRemaining(p -> assertFalse(removed.contains(p), "new connection to removed pod " + p));

        lab.apply(ManifestReader.read(List.of(LabTest.SEED)));
        awaitProgrammed(4);
    }

    @Test
    @Order(5)
    void killingTheAgentWithSigkillDuringLoadFailsNoRequest() throws Exception {
        PodState client = lab.pod("deploy/client");
        Process steady = lab.execAsync("deploy/client", JavaCommand.sluice("load", "--keepalive", "8", "--duration", "6s", "product-service:50051"));
        Process fresh = lab.execAsync("deploy/client", JavaCommand.sluice("load", "--connections", "1500", "product-service:50051"));
        Thread.sleep(1_000);
        LabState.AgentState agent = lab.state().agents().stream().filter(a -> a.node().equals(client.node())).findFirst().orElseThrow();
        long killed = Lab.supervision(agent).orElseThrow().agentPid();
        ProcessHandle.of(killed).orElseThrow().destroyForcibly();
        // Nobody restarts it but its supervisor.
        long deadline0 = System.currentTimeMillis() + 20_000;
        while (Lab.supervision(agent).map(r -> r.agentPid() == killed || r.agentPid() == 0).orElse(true)
                && System.currentTimeMillis() < deadline0) {
            Thread.sleep(50);
        }
        assertEquals("SIGKILL", Lab.supervision(agent).orElseThrow().lastExit().signal());
        LabState.AgentState restarted = agent;
        assertTrue(steady.waitFor(30, TimeUnit.SECONDS) && fresh.waitFor(60, TimeUnit.SECONDS));
        for (Process p : List.of(steady, fresh)) {
            String out = new String(p.getInputStream().readAllBytes());
            JsonNode s = JSON.readTree(out.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow(() -> new AssertionError(out)));
            assertEquals(0, s.get("failures").asLong(), "failed requests across the agent restart: " + s);
        }
        String log = "";
        long deadline = System.currentTimeMillis() + 10_000;
        java.util.regex.Pattern adopted = java.util.regex.Pattern.compile("starting it again(?s:.*)adopted [1-9][0-9]* frontend");
        while (!adopted.matcher(log).find() && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
            log = Files.exists(Path.of(restarted.log())) ? Files.readString(Path.of(restarted.log())) : "";
        }
        assertTrue(adopted.matcher(log).find(), "the restarted agent adopted the pinned frontends: " + log);
    }

    @Test
    @Order(11)
    void aServiceWithoutBackendsRefusesConnectionsAtOnce(@TempDir Path dir) throws Exception {
        Path svc = dir.resolve("nobody.yaml");
        Files.writeString(svc, """
                apiVersion: v1
                kind: Service
                metadata:
                  name: nobody
                spec:
                  selector:
                    app: nobody
                  ports:
                  - port: 80
                    targetPort: 8080
                """);
        lab.apply(ManifestReader.read(List.of(svc)));
        Thread.sleep(500); // one agent sync
        long start = System.nanoTime();
        Command.Result r = lab.execCapture("deploy/client", JavaCommand.sluice("load", "--connections", "1", "--timeout", "5s", "nobody:80"));
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(1, r.exitCode(), r.stdout());
        assertTrue(r.stdout().contains("Connection refused"), r.stdout());
        System.out.println("[" + getClass().getSimpleName() + "] connect to a Service without backends failed in " + ms + " ms (JVM start included)");
        lab.delete(ManifestReader.read(List.of(svc)));
    }
}
