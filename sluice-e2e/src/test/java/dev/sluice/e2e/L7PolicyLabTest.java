package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.lab.Lab;
import dev.sluice.linux.JavaCommand;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ManifestReader;
import dev.sluice.observe.FlowFormat;
import dev.sluice.observe.v1.Flow;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * L7 policy (CiliumNetworkPolicy {@code toPorts.rules.http}) in the lab: Service web (HTTP on 8080, gRPC on 50051)
 * is reached through the node proxy because its pods' policy has HTTP rules there. The client may GET /public.*
 * and call Echo/Ping; the partner may do anything on 8080 (allowed there without L7 rules) and nothing on 50051; the
 * rogue nothing. What the rules deny the proxy answers (403 "Access denied", PERMISSION_DENIED); what L4 denies is
 * dropped in the kernel on a direct connection, and a direct connection to a pod's L7 port is dropped even for the
 * client, so the rules cannot be bypassed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class L7PolicyLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path VALUES = LabTest.ROOT.resolve("examples/seed/cilium-values.yaml");
    static final String MANIFESTS = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                  - name: web
                    image: sluice/echo
                    ports:
                    - {containerPort: 8080, name: http}
                    - {containerPort: 50051, name: grpc}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              selector: {app: web}
              ports:
              - {name: http, port: 8080, targetPort: 8080}
              - {name: grpc, port: 50051, targetPort: 50051}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: partner}
            spec:
              replicas: 1
              selector: {matchLabels: {app: partner}}
              template:
                metadata: {labels: {app: partner}}
                spec:
                  containers:
                  - {name: partner, image: sluice/toolbox, command: ["sleep", "infinity"]}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web-l7}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: client}}]
                toPorts:
                - ports: [{port: "8080", protocol: TCP}]
                  rules:
                    http:
                    - {method: GET, path: "/public.*"}
                - ports: [{port: "50051", protocol: TCP}]
                  rules:
                    http:
                    - {method: POST, path: "/sluice.echo.v1.Echo/Ping"}
              - fromEndpoints: [{matchLabels: {app: partner}}]
                toPorts:
                - ports: [{port: "8080", protocol: TCP}]
            """;
    private Lab lab;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("l7p");
        Path manifests = Files.createTempFile("l7-policy", ".yaml");
        try {
            Files.writeString(manifests, MANIFESTS);
            lab.up(2, ManifestReader.read(List.of(LabTest.CLIENT, LabTest.ROOT.resolve("examples/demo/rogue.yaml"), manifests)),
                    VALUES);
        } finally {
            Files.delete(manifests);
        }
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    /** `sluice call ... -o json` in a pod: one JSON object per call. */
    private List<JsonNode> call(String deployment, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("call", "-o", "json", "--timeout", "3s"));
        command.addAll(List.of(args));
        Process p = lab.execAsync("deploy/" + deployment, JavaCommand.sluice(command.toArray(String[]::new)));
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        List<JsonNode> calls = new ArrayList<>();
        for (String line : out.lines().filter(l -> l.startsWith("{")).toList()) {
            calls.add(JSON.readTree(line));
        }
        assertFalse(calls.isEmpty(), deployment + " " + command + ": " + out);
        System.out.println("[L7PolicyLabTest] " + deployment + " " + String.join(" ", args) + ": " + calls.getFirst());
        return calls;
    }

    private static void allOk(List<JsonNode> calls) {
        for (JsonNode c : calls) {
            assertTrue(c.path("ok").asBoolean(), c.toString());
            assertEquals("web", c.path("identity").path("labels").path("app").asText(), c.toString());
        }
    }

    private static void allFail(List<JsonNode> calls, String... says) {
        for (JsonNode c : calls) {
            assertFalse(c.path("ok").asBoolean(), c.toString());
            for (String s : says) {
                assertTrue(c.path("error").asText().contains(s), "expected <" + s + "> in " + c);
            }
        }
    }

    private String proxyLine(String node) {
        AgentStatus s = StatusFile.read(lab.layout(node).statusFile()).orElseThrow();
        return s.lines().stream().filter(l -> l.key().equals("Proxy")).map(AgentStatus.Line::value).findFirst().orElse("(none)");
    }

    @Test
    @Order(1)
    void statusNamesTheRedirectedPortsAsL7Policy() {
        for (String node : List.of("node-1", "node-2")) {
            String proxy = proxyLine(node);
            System.out.println("[L7PolicyLabTest] " + node + " Proxy: " + proxy);
            assertTrue(proxy.contains("L7 policy on default/web:8080, default/web:50051"), proxy);
        }
    }

    @Test
    @Order(2)
    void theClientsGetIsAllowedItsPostAndOtherPathsAre403() throws Exception {
        allOk(call("client", "--http", "--path", "/public/index.html", "-n", "6", "web:8080"));
        allFail(call("client", "--http", "--method", "POST", "--path", "/public/index.html", "-n", "3", "web:8080"),
                "HTTP status 403: Access denied");
        allFail(call("client", "--http", "--path", "/private", "-n", "3", "web:8080"), "HTTP status 403: Access denied");
    }

    @Test
    @Order(3)
    void theClientsAllowedGrpcMethodPassesAnotherIsPermissionDenied() throws Exception {
        allOk(call("client", "--grpc", "-n", "6", "web:50051"));
        allFail(call("client", "--health", "-n", "3", "web:50051"), "PERMISSION_DENIED",
                "/grpc.health.v1.Health/Check is not allowed by the HTTP rules of CiliumNetworkPolicy default/web-l7");
    }

    @Test
    @Order(4)
    void thePartnerAllowedWithoutL7RulesMayDoAnythingOnItsPortAndNothingElse() throws Exception {
        allOk(call("partner", "--http", "--path", "/private", "-n", "3", "web:8080"));
        allOk(call("partner", "--http", "--method", "POST", "--path", "/anything", "-n", "3", "web:8080"));
        // not allowed at L4 on 50051: the proxy, which the Service port leads to, refuses it by its identity
        allFail(call("partner", "--grpc", "-n", "3", "web:50051"), "PERMISSION_DENIED", "Policy denied", "web-l7");
    }

    @Test
    @Order(5)
    void theRogueIsDeniedThroughTheProxyAndDroppedInTheKernelDirectly() throws Exception {
        allFail(call("some-rogue-pod", "--http", "--path", "/public/x", "-n", "3", "web:8080"), "HTTP status 403", "Policy denied");
        NetNs rogue = NetNs.existing(lab.pod("deploy/some-rogue-pod").netns());
        for (var web : webPods()) {
            assertEquals(PodProbe.Outcome.DROPPED, PodProbe.tcp(rogue, web.ip(), 8080, 1_500), "rogue -> " + web.name() + ":8080");
        }
    }

    @Test
    @Order(6)
    void aDirectConnectionToAnL7PortIsDroppedInTheKernelNamingThePolicy() {
        NetNs client = NetNs.existing(lab.pod("deploy/client").netns());
        NetNs partner = NetNs.existing(lab.pod("deploy/partner").netns());
        for (var web : webPods()) {
            // the client is allowed there only with HTTP rules: only through the proxy
            assertEquals(PodProbe.Outcome.DROPPED, PodProbe.tcp(client, web.ip(), 8080, 1_500), "client -> " + web.name() + ":8080");
            assertEquals(PodProbe.Outcome.DROPPED, PodProbe.tcp(client, web.ip(), 50051, 1_500), "client -> " + web.name() + ":50051");
            // the partner is allowed on 8080 without L7 rules: its L4 allow stays in the kernel
            assertEquals(PodProbe.Outcome.CONNECTED, PodProbe.tcp(partner, web.ip(), 8080, 1_500), "partner -> " + web.name() + ":8080");
        }
        String clientPod = lab.pod("deploy/client").name();
        List<Flow> drops = observe("observe", "--verdict", "DROPPED", "--from-pod", "default/" + clientPod, "-o", "json");
        assertFalse(drops.isEmpty(), "the client's direct SYNs dropped");
        Flow drop = drops.getLast();
        System.out.println("[L7PolicyLabTest] client's direct connection: " + drop.getPolicy() + " " + drop.getDropReason());
        assertEquals("web-l7", drop.getPolicy().getName());
        assertEquals("endpointSelector", drop.getPolicy().getRule(), "the default deny it falls to");
    }

    private List<dev.sluice.lab.LabState.PodState> webPods() {
        List<dev.sluice.lab.LabState.PodState> pods = lab.state().pods().stream().filter(p -> "web".equals(p.labels().get("app"))).toList();
        assertEquals(2, pods.size(), pods.toString());
        return pods;
    }

    private List<Flow> observe(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(Stream.concat(Stream.of(args), Stream.of("--lab", lab.name())).toArray(String[]::new));
        assertEquals(0, exit, err.toString());
        return out.toString().lines().map(l -> {
            try {
                return FlowFormat.parseJson(l);
            } catch (Exception e) {
                throw new AssertionError("not a JSON flow: " + l, e);
            }
        }).toList();
    }
}
