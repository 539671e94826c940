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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Outlier detection through the node proxy in the lab (issue 11): Service {@code flaky} selects a good pod and one
 * labelled to answer every Ping {@code UNAVAILABLE}; a CiliumEnvoyConfig routes it round robin to its EDS cluster with
 * {@code outlierDetection: {consecutive5xx: 3}}. Of 200 calls on one connection exactly 3 fail (the bad pod's three
 * answers in a row), then it is ejected and the good pod answers the rest.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OutlierLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path VALUES = LabTest.ROOT.resolve("examples/seed/cilium-values.yaml");
    private static final String FLAKY = """
            apiVersion: v1
            kind: Service
            metadata:
              name: flaky
            spec:
              selector:
                app: flaky
              ports:
              - name: grpc
                port: 50051
                targetPort: 50051
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: flaky-good
            spec:
              replicas: 1
              selector:
                matchLabels: {app: flaky, kind: good}
              template:
                metadata:
                  labels: {app: flaky, kind: good}
                spec:
                  containers:
                  - name: echo
                    image: sluice/echo
                    ports:
                    - containerPort: 50051
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: flaky-bad
            spec:
              replicas: 1
              selector:
                matchLabels: {app: flaky, kind: bad}
              template:
                metadata:
                  labels: {app: flaky, kind: bad, echo.sluice.dev/fail: UNAVAILABLE}
                spec:
                  containers:
                  - name: echo
                    image: sluice/echo
                    ports:
                    - containerPort: 50051
            """;
    private static final String CONFIG = """
            apiVersion: cilium.io/v2
            kind: CiliumEnvoyConfig
            metadata:
              name: flaky-outliers
            spec:
              services:
              - name: flaky
                namespace: default
              resources:
              - "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
                name: flaky
                virtualHosts:
                - name: flaky
                  domains: ["flaky:50051"]
                  routes:
                  - match: { prefix: "/" }
                    route: { cluster: default/flaky }
              - "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
                name: default/flaky
                type: EDS
                connectTimeout: 5s
                lbPolicy: ROUND_ROBIN
                edsClusterConfig:
                  serviceName: default/flaky
                outlierDetection:
                  consecutive5xx: 3
                  baseEjectionTime: 60s
                  maxEjectionPercent: 50
            """;
    private Lab lab;
    private String node;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("ol");
        Path dir = Files.createTempDirectory("sluice-outliers");
        Files.writeString(dir.resolve("flaky.yaml"), FLAKY);
        Files.writeString(dir.resolve("outliers.yaml"), CONFIG);
        lab.up(1, ManifestReader.read(List.of(dir.resolve("flaky.yaml"), LabTest.CLIENT)), VALUES);
        lab.apply(ManifestReader.read(List.of(dir.resolve("outliers.yaml"))));
        node = lab.pod("deploy/client").node();
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    @Test
    void aBackendAnsweringUnavailableIsEjectedAfterThreeInARow() throws Exception {
        Process p = lab.execAsync("deploy/client", JavaCommand.sluice("call", "--same-connection", "-n", "200", "--timeout", "10s",
                "-o", "json", "flaky:50051"));
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        List<JsonNode> calls = new ArrayList<>();
        for (String l : out.lines().filter(l -> l.startsWith("{")).toList()) {
            calls.add(JSON.readTree(l));
        }
        List<JsonNode> failed = calls.stream().filter(c -> !c.path("ok").asBoolean()).toList();
        String good = lab.pod("deploy/flaky-good").name();
        long lastFailure = calls.stream().filter(c -> !c.path("ok").asBoolean()).mapToLong(c -> c.path("call").asLong()).max().orElse(-1);
        String proxy = StatusFile.read(lab.layout(node).statusFile()).orElseThrow().lines().stream().filter(l -> l.key().equals("Proxy"))
                .map(AgentStatus.Line::value).findFirst().orElse("");
        System.out.println("[OutlierLabTest] " + failed.size() + " of " + calls.size() + " calls failed, the last at call " + lastFailure + ": "
                + failed.stream().map(c -> c.path("error").asText()).limit(3).toList() + "; " + proxy);
        assertEquals(200, calls.size());
        assertEquals(3, failed.size(), "consecutive5xx: 3 lets exactly three failures through: " + failed);
        assertTrue(failed.stream().allMatch(c -> c.path("error").asText().contains("UNAVAILABLE")), failed.toString());
        assertTrue(calls.stream().filter(c -> c.path("ok").asBoolean()).allMatch(c -> good.equals(c.path("identity").path("pod").asText())));
        assertTrue(lastFailure <= 6, "round robin: the bad pod's three answers come within the first six calls, then it is ejected");
    }
}
