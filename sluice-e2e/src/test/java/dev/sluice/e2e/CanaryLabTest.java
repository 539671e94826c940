package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.lab.Lab;
import dev.sluice.linux.JavaCommand;
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
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seed's canary (section 2 of the article): its CiliumEnvoyConfig applied unmodified, and gRPC calls from
 * the client pod over one HTTP/2 connection are split 90/10 between the versions by the node's L7 proxy, to
 * which load balancing sends only the Service port the configuration names.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CanaryLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path VALUES = LabTest.ROOT.resolve("examples/seed/cilium-values.yaml");
    private static final Path CANARY = LabTest.ROOT.resolve("examples/seed/canary-routing.yaml");
    private Lab lab;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("l7");
        // A second Service on the same pods, which no envoy configuration names.
        Path plain = Files.createTempFile("plain", ".yaml");
        Files.writeString(plain, """
                apiVersion: v1
                kind: Service
                metadata:
                  name: plain
                spec:
                  selector:
                    app: product-service
                  ports:
                  - port: 9000
                    targetPort: 50051
                """);
        lab.up(2, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT, plain)), VALUES);
        Files.delete(plain);
        lab.apply(ManifestReader.read(List.of(CANARY)));
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    /** Calls from the client pod over one connection; the answering versions, counted. */
    private Map<String, Integer> calls(int n) throws Exception {
        return calls(n, "product-service:50051");
    }

    /** @param target as the client calls it, which is also the request's authority */
    private Map<String, Integer> calls(int n, String target) throws Exception {
        Process p = lab.execAsync("deploy/client", JavaCommand.sluice("call", "--same-connection", "-n", Integer.toString(n), "-o", "json",
                target));
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        Map<String, Integer> versions = new TreeMap<>();
        int failed = 0;
        for (String line : out.lines().filter(l -> l.startsWith("{")).toList()) {
            JsonNode call = JSON.readTree(line);
            if (!call.path("ok").asBoolean()) {
                failed++;
                continue;
            }
            versions.merge(call.path("identity").path("labels").path("version").asText(), 1, Integer::sum);
        }
        assertEquals(0, failed, "failed calls: " + out.lines().filter(l -> l.contains("\"ok\":false")).limit(3).toList());
        assertEquals(n, versions.values().stream().mapToInt(Integer::intValue).sum(), out.lines().limit(5).toList().toString());
        return versions;
    }

    private String proxyLine(String node) {
        AgentStatus s = StatusFile.read(lab.layout(node).statusFile()).orElseThrow();
        return s.lines().stream().filter(l -> l.key().equals("Proxy")).map(AgentStatus.Line::value).findFirst().orElse("(none)");
    }

    @Test
    @Order(1)
    void tenThousandCallsOnOneConnectionAreSplitNinetyTen() throws Exception {
        Map<String, Integer> versions = calls(10_000);
        double v2 = 100.0 * versions.getOrDefault("v2", 0) / 10_000;
        System.out.println("[CanaryLabTest] 10,000 calls on one connection: " + versions + " (v2 " + v2 + " %)");
        assertTrue(Math.abs(v2 - 10.0) <= 1.5, "v2 got " + v2 + " % of the calls: " + versions);
        String node = lab.pod("deploy/client").node();
        String proxy = proxyLine(node);
        assertTrue(proxy.contains("default/product-service:50051") && proxy.contains("1 downstream connection(s)"), proxy);
    }

    @Test
    @Order(2)
    void aCallByClusterIpIsRoutedAndTheProxyShowsTheXdsItHoldsAndAcked() throws Exception {
        // The Service port's own listener names the Service, so the ClusterIP authority finds its routes.
        String vip = lab.state().clusterIps().get("default/product-service");
        Map<String, Integer> versions = calls(1_000, vip + ":50051");
        System.out.println("[CanaryLabTest] 1,000 calls by ClusterIP " + vip + ":50051 on one connection: " + versions);
        double v2 = 100.0 * versions.getOrDefault("v2", 0) / 1_000;
        assertTrue(Math.abs(v2 - 10.0) <= 4.0, "v2 got " + v2 + " %: " + versions);

        String node = lab.pod("deploy/client").node();
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        picocli.CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new java.io.PrintWriter(out));
        cli.setErr(new java.io.PrintWriter(err));
        assertEquals(0, cli.execute("proxy", "config", "--lab", lab.name(), "--node", node), err.toString());
        JsonNode dump = JSON.readTree(out.toString());
        JsonNode configs = dump.path("configs");
        assertEquals(List.of("type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
                        "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump"),
                List.of(configs.get(0).path("@type").asText(), configs.get(1).path("@type").asText(),
                        configs.get(2).path("@type").asText(), configs.get(3).path("@type").asText()));
        JsonNode listener = configs.get(0).path("dynamicListeners").get(0);
        assertEquals("default/product-service:50051", listener.path("name").asText(), out.toString());
        JsonNode address = listener.path("activeState").path("listener").path("address").path("socketAddress");
        assertEquals("169.254.1.1:15001", address.path("address").asText() + ":" + address.path("portValue").asInt());
        List<String> clusters = new java.util.ArrayList<>();
        configs.get(2).path("dynamicActiveClusters").forEach(c -> clusters.add(c.path("cluster").path("name").asText()
                + " " + c.path("cluster").path("type").asText()));
        assertEquals(List.of("default/product-service-v1 EDS", "default/product-service-v2 EDS"), clusters);
        Map<String, Integer> endpoints = new TreeMap<>();
        configs.get(3).path("dynamicEndpointConfigs").forEach(e -> endpoints.put(e.path("endpointConfig").path("clusterName").asText(),
                e.path("endpointConfig").path("endpoints").get(0).path("lbEndpoints").size()));
        assertEquals(Map.of("default/product-service-v1", 3, "default/product-service-v2", 1), endpoints);

        // Status: the version the proxy ACKed is the one it holds.
        String version = configs.get(0).path("versionInfo").asText();
        String proxy = proxyLine(node);
        System.out.println("[CanaryLabTest] Proxy: " + proxy);
        assertTrue(proxy.contains("xDS version " + version + " acked"), proxy);
        assertTrue(proxy.contains("default/product-service:50051 on 169.254.1.1:15001"), proxy);
    }

    @Test
    @Order(3)
    void onlyTheServicePortWithL7ConfigurationIsSentToTheProxy() {
        String node = lab.pod("deploy/client").node();
        var services = StatusFile.read(lab.layout(node).statusFile()).orElseThrow().lines().stream()
                .filter(l -> l.key().equals("Services")).findFirst().orElseThrow().value();
        var frontends = dev.sluice.datapath.lb.LbMapWriter.read(dev.sluice.datapath.lb.LbMaps.openPinned(lab.layout(node).maps()));
        String plainVip = lab.state().clusterIps().get("default/plain");
        for (var f : frontends) {
            boolean toProxy = f.backends().stream().anyMatch(b -> b.port() == 15001);
            boolean canary = !f.address().equals(plainVip);
            assertEquals(canary, toProxy, "frontend " + f.address() + ":" + f.port() + " -> " + f.backends() + " (" + services + ")");
        }
        assertEquals(2, frontends.size(), "the canary's Service and the plain one: " + frontends);
    }

    @Test
    @Order(4)
    void newWeightsApplyOnTheNextRequests(@TempDir Path dir) throws Exception {
        Path fifty = dir.resolve("canary-50.yaml");
        Files.writeString(fifty, Files.readString(CANARY).replace("weight: 90", "weight: 50").replace("weight: 10", "weight: 50"));
        lab.apply(ManifestReader.read(List.of(fifty)));
        Map<String, Integer> versions = calls(2_000);
        double v2 = 100.0 * versions.getOrDefault("v2", 0) / 2_000;
        System.out.println("[CanaryLabTest] 2,000 calls after 50/50: " + versions);
        assertTrue(Math.abs(v2 - 50.0) <= 4.0, "v2 got " + v2 + " %: " + versions);
    }

    @Test
    @Order(5)
    void theProxyNeverBypassesNetworkPolicyTheClientStillCallsTheRogueIsDenied() throws Exception {
        Path demo = LabTest.ROOT.resolve("examples/demo");
        lab.apply(ManifestReader.read(List.of(demo.resolve("rogue.yaml"), demo.resolve("policy.yaml"))));
        // Every backend, on the client's node (the proxy is the host there) and on the other (the proxy is a
        // remote node there, let in on the proxied port only), answers the client.
        Map<String, Integer> allowed = calls(1_000);
        assertEquals(Map.of("v1", true, "v2", true), Map.of("v1", allowed.getOrDefault("v1", 0) > 0, "v2", allowed.getOrDefault("v2", 0) > 0),
                allowed.toString());
        String clientNode = lab.pod("deploy/client").node();
        System.out.println("[CanaryLabTest] with policy: " + allowed + "; client on " + clientNode + ", backends on "
                + lab.state().pods().stream().filter(p -> "product-service".equals(p.labels().get("app"))).map(p -> p.node()).toList());
        assertTrue(lab.state().pods().stream().filter(p -> "product-service".equals(p.labels().get("app")))
                .anyMatch(p -> !p.node().equals(clientNode)), "a backend on another node than the client's proxy");

        Process p = lab.execAsync("deploy/some-rogue-pod", JavaCommand.sluice("call", "--same-connection", "-n", "20", "-o", "json",
                "--timeout", "2s", "product-service:50051"));
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        List<String> lines = out.lines().filter(l -> l.startsWith("{")).toList();
        assertEquals(20, lines.size(), out);
        for (String line : lines) {
            JsonNode call = JSON.readTree(line);
            assertTrue(!call.path("ok").asBoolean() && call.path("error").asText().contains("PERMISSION_DENIED")
                    && call.path("error").asText().contains("product-service-from-client"), line);
        }
    }
}
