package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.lab.Lab;
import dev.sluice.linux.JavaCommand;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seed's canary through the node proxy with {@code routingMode: tunnel}: the proxy connects to backends on the
 * other node from its clients' own addresses (identity-preserving forwarding), so their replies come back through
 * the VXLAN device, where the agent attaches the proxy's reply program as on the uplink. Without it, replies from the
 * other node would reach the client pod instead of the proxy and those calls would fail.
 */
class TunnelL7LabTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void theCanarySplitReachesTheOtherNodesBackendsThroughTheTunnel() throws Exception {
        Privileged.require();
        Path values = Files.createTempFile("tunnel-values", ".yaml");
        Files.writeString(values, Files.readString(LabTest.ROOT.resolve("examples/seed/cilium-values.yaml")) + "routingMode: tunnel\n");
        Lab lab = TestLabs.create("tl");
        try {
            lab.up(2, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT)), values);
            lab.apply(ManifestReader.read(List.of(LabTest.ROOT.resolve("examples/seed/canary-routing.yaml"))));
            String clientNode = lab.pod("deploy/client").node();
            String proxy = CliRun.of(lab, "status").lines().stream().filter(l -> l.contains("Proxy:")).findFirst().orElse("");
            assertTrue(proxy.contains("forwarding from the clients' addresses"), "identity-preserving forwarding must be on for this test to mean anything: " + proxy);

            Process p = lab.execAsync("deploy/client", JavaCommand.sluice("call", "--same-connection", "-n", "400", "-o", "json",
                    "--timeout", "10s", "product-service:50051"));
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            Map<String, Integer> byNode = new TreeMap<>();
            Map<String, Integer> byVersion = new TreeMap<>();
            int failed = 0;
            for (String line : out.lines().filter(l -> l.startsWith("{")).toList()) {
                JsonNode call = JSON.readTree(line);
                if (!call.path("ok").asBoolean()) {
                    failed++;
                    continue;
                }
                byNode.merge(call.path("identity").path("node").asText(), 1, Integer::sum);
                byVersion.merge(call.path("identity").path("labels").path("version").asText(), 1, Integer::sum);
            }
            System.out.println("[TunnelL7LabTest] client on " + clientNode + "; answers by node " + byNode + ", by version " + byVersion);
            assertEquals(0, failed, "failed calls: " + out.lines().filter(l -> l.contains("\"ok\":false")).limit(3).toList());
            assertEquals(400, byNode.values().stream().mapToInt(Integer::intValue).sum(), out.lines().limit(5).toList().toString());
            assertTrue(byNode.keySet().stream().anyMatch(n -> !n.equals(clientNode)), "some answers from the other node: " + byNode);
            assertTrue(byVersion.containsKey("v1") && byVersion.containsKey("v2"), byVersion.toString());
        } finally {
            TestLabs.down(lab);
            Files.deleteIfExists(values);
        }
    }
}
