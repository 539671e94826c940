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
        Process p = lab.execAsync("deploy/client", JavaCommand.sluice("call", "--same-connection", "-n", Integer.toString(n), "-o", "json",
                "product-service:50051"));
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
    void onlyTheServicePortWithL7ConfigurationIsSentToTheProxy() {
        String node = lab.pod("deploy/client").node();
        var services = StatusFile.read(lab.layout(node).statusFile()).orElseThrow().lines().stream()
                .filter(l -> l.key().equals("Services")).findFirst().orElseThrow().value();
        var frontends = dev.sluice.datapath.lb.LbMapWriter.read(dev.sluice.datapath.lb.LbMaps.openPinned(lab.layout(node).maps()));
        String plainVip = lab.state().clusterIps().get("default/plain");
        // Cluster DNS (kube-system/kube-dns) is a plain Service of every lab: in the kernel, like "plain".
        String dnsVip = lab.state().clusterIps().get("kube-system/kube-dns");
        frontends = frontends.stream().filter(f -> !f.address().equals(dnsVip)).toList();
        for (var f : frontends) {
            boolean toProxy = f.backends().stream().anyMatch(b -> b.port() == 15001);
            boolean canary = !f.address().equals(plainVip);
            assertEquals(canary, toProxy, "frontend " + f.address() + ":" + f.port() + " -> " + f.backends() + " (" + services + ")");
        }
        assertEquals(2, frontends.size(), "the canary's Service and the plain one: " + frontends);
    }

    @Test
    @Order(3)
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
    @Order(4)
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
