package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.JavaCommand;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ManifestReader;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CNI plugin driven as kubelet drives it: the plugin's main in a process of its own in a lab node's network
 * namespace (where kubelet runs), the {@code CNI_*} variables in its environment and the network configuration on
 * its stdin, for a sandbox namespace the test made as a runtime would. ADD gives a pod namespace from which a lab
 * pod answers by its address and by its Service's ClusterIP (translated by the per-packet LB program the agent
 * attached to the new veth, since the node has no route for ClusterIPs) and whose egress policy the agent enforces by
 * the labels of the configuration's {@code args.cni.labels}; CHECK passes, and fails once the veth is gone; DEL is
 * idempotent, also once the namespace is gone; bad configuration gets the spec's error object.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CniLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private Lab lab;
    private LabState.NodeState node;
    private NetNs sandbox;
    private String sandboxPath;
    private JsonNode added;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("cni");
        Path web = Files.createTempFile("web", ".yaml");
        Files.writeString(web, """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: web
                spec:
                  replicas: 1
                  selector:
                    matchLabels:
                      app: web
                  template:
                    metadata:
                      labels:
                        app: web
                    spec:
                      containers:
                      - name: web
                        image: sluice/echo
                        ports:
                        - containerPort: 8080
                ---
                apiVersion: v1
                kind: Service
                metadata:
                  name: web
                spec:
                  selector:
                    app: web
                  ports:
                  - port: 80
                    targetPort: 8080
                """);
        try {
            lab.up(1, ManifestReader.read(List.of(web)), null);
        } finally {
            Files.delete(web);
        }
        node = lab.state().nodes().getFirst();
        // The runtime's sandbox: named with the lab's prefix, so that `lab down` removes it whatever happens here.
        sandbox = NetNs.create("sl-" + lab.name() + "-cnipod");
        sandboxPath = Path.of("/run/netns", sandbox.name()).toString();
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    private String config(String extra) {
        return """
                {"cniVersion":"1.0.0","name":"sluice","type":"sluice-cni","agentSocket":"%s",
                 "args":{"cni":{"labels":[{"key":"app","value":"cni-pod"}]}}%s}"""
                .formatted(lab.layout(node.name()).cniSocket(), extra);
    }

    private record Run(int status, String stdout, String stderr, long millis) {
        JsonNode json() {
            try {
                return JSON.readTree(stdout);
            } catch (java.io.IOException e) {
                throw new UncheckedIOException("not JSON: " + stdout + " (stderr: " + stderr + ")", e);
            }
        }
    }

    /** The plugin as kubelet runs it: in the node's network namespace, CNI_* in a clean environment, the config on stdin. */
    private Run plugin(String command, String netns, String config) throws Exception {
        return plugin(command, "c0ffee01", netns, config);
    }

    private Run plugin(String command, String container, String netns, String config) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + node.netns()));
        cmd.addAll(JavaCommand.of("dev.sluice.cni.CniPlugin", List.of("-Xmx64m"), List.of()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        String path = env.getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        env.clear();
        env.put("PATH", path);
        env.putAll(new HashMap<>(Map.of("CNI_COMMAND", command, "CNI_CONTAINERID", container, "CNI_IFNAME", "eth0",
                "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + (container.equals("c0ffee01") ? "cni-pod" : container), "CNI_PATH", "/opt/cni/bin")));
        if (netns != null) {
            env.put("CNI_NETNS", netns);
        }
        long t0 = System.nanoTime();
        Process p = pb.start();
        try (var in = p.getOutputStream()) {
            in.write(config.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Run(p.exitValue(), out, err, (System.nanoTime() - t0) / 1_000_000);
    }

    private String statusLine(String key) {
        AgentStatus s = StatusFile.read(lab.layout(node.name()).statusFile()).orElseThrow();
        return s.lines().stream().filter(l -> l.key().equals(key)).map(AgentStatus.Line::value).findFirst().orElse("(none)");
    }

    private String webIp() {
        return lab.pod("deploy/web").ip();
    }

    @Test
    @Order(1)
    void addMakesAPodNamespaceFromWhichTheLabAnswers() throws Exception {
        Run add = plugin("ADD", sandboxPath, config(""));
        assertEquals(0, add.status(), add.stdout() + add.stderr());
        added = add.json();
        System.out.println("[CniLabTest] ADD in " + add.millis() + " ms (a JVM without the AOT cache): " + add.stdout().strip());
        String ip = added.at("/ips/0/address").asText();
        assertTrue(ip.startsWith(node.podCidr().substring(0, node.podCidr().lastIndexOf('.') + 1)) && ip.endsWith("/32"),
                ip + " in " + node.podCidr());
        assertEquals("169.254.1.1", added.at("/routes/0/gw").asText());
        assertEquals(sandboxPath, added.at("/interfaces/1/sandbox").asText());
        String hostVeth = added.at("/interfaces/0/name").asText();
        assertTrue(NetNs.existing(node.netns()).ip("link", "show", "dev", hostVeth).contains("UP"));
        assertTrue(sandbox.ip("addr", "show", "dev", "eth0").contains(ip));

        // A lab pod answers the new pod, by its address and by its Service's ClusterIP.
        String byIp = PodHttp.get(sandbox, webIp(), 8080, "/");
        assertTrue(byIp.startsWith("HTTP/1.1 200") && byIp.contains(lab.pod("deploy/web").name()), byIp);
        String vip = lab.state().clusterIps().get("default/web");
        String byService = PodHttp.get(sandbox, vip, 80, "/");
        assertTrue(byService.startsWith("HTTP/1.1 200") && byService.contains(lab.pod("deploy/web").name()), byService);

        // The agent shows it: an endpoint with its address, and the IPAM line.
        AgentStatus s = StatusFile.read(lab.layout(node.name()).statusFile()).orElseThrow();
        assertTrue(s.endpoints().stream().anyMatch(e -> e.pod().equals("cni-pod") && ip.equals(e.ip() + "/32")), s.endpoints().toString());
        assertTrue(statusLine("IPAM").endsWith("/253 allocated from " + node.podCidr() + " (CNI plugin: 1)"), statusLine("IPAM"));

        // The runtime repeats an ADD it thinks failed (a timeout): the pair made afresh with its programs (the policy test
        // below runs on it), the lowest free address again, still one allocation.
        Run again = plugin("ADD", sandboxPath, config(""));
        assertEquals(0, again.status(), again.stdout() + again.stderr());
        assertEquals(ip, again.json().at("/ips/0/address").asText());
        added = again.json();
        assertTrue(PodHttp.get(sandbox, webIp(), 8080, "/").startsWith("HTTP/1.1 200"));
        assertTrue(statusLine("IPAM").endsWith("(CNI plugin: 1)"), statusLine("IPAM"));
    }

    @Test
    @Order(2)
    void theAgentEnforcesPolicyOnTheNewPodByItsLabels() throws Exception {
        Path policy = Files.createTempFile("cni-egress", ".yaml");
        Files.writeString(policy, """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata:
                  name: cni-pod-egress
                spec:
                  endpointSelector:
                    matchLabels:
                      app: cni-pod
                  egress:
                  - toEndpoints:
                    - matchLabels:
                        app: nothing-has-this
                """);
        try {
            lab.apply(ManifestReader.read(List.of(policy)));
            assertThrows(UncheckedIOException.class, () -> PodHttp.get(sandbox, webIp(), 8080, "/"),
                    "egress from app=cni-pod is denied by its own veth's program");
            lab.delete(ManifestReader.read(List.of(policy)));
            assertTrue(PodHttp.get(sandbox, webIp(), 8080, "/").startsWith("HTTP/1.1 200"));
        } finally {
            Files.delete(policy);
        }
    }

    @Test
    @Order(3)
    void anAgentKilledAndStartedAgainKeepsTheAddressAndTheEndpoint() throws Exception {
        String ip = added.at("/ips/0/address").asText();
        var agent = lab.state().agents().stream().filter(a -> a.node().equals(node.name())).findFirst().orElseThrow();
        long killed = Lab.supervision(agent).orElseThrow().agentPid();
        ProcessHandle.of(killed).orElseThrow().destroyForcibly();
        // Its supervisor starts it again; wait for the new agent's status with the plugin's endpoint in it.
        long deadline = System.currentTimeMillis() + 60_000;
        AgentStatus s = null;
        while (System.currentTimeMillis() < deadline) {
            s = StatusFile.read(lab.layout(node.name()).statusFile()).orElse(null);
            if (s != null && s.pid() != killed && s.endpoints().stream().anyMatch(e -> e.pod().equals("cni-pod"))) {
                break;
            }
            Thread.sleep(100);
        }
        assertTrue(s != null && s.pid() != killed, "a new agent reports");
        assertTrue(s.endpoints().stream().anyMatch(e -> e.pod().equals("cni-pod") && ip.equals(e.ip() + "/32")), s.endpoints().toString());
        assertTrue(statusLine("IPAM").endsWith("(CNI plugin: 1)"), statusLine("IPAM"));
        assertTrue(PodHttp.get(sandbox, lab.state().clusterIps().get("default/web"), 80, "/").startsWith("HTTP/1.1 200"),
                "the pod's programs are still there (adopted)");

        // A second pod gets another address: the restarted agent does not hand out the first one again.
        try (NetNs second = NetNs.create("sl-" + lab.name() + "-cnipod2")) {
            String path = Path.of("/run/netns", second.name()).toString();
            Run add = plugin("ADD", "c0ffee02", path, config(""));
            assertEquals(0, add.status(), add.stdout() + add.stderr());
            String ip2 = add.json().at("/ips/0/address").asText();
            assertFalse(ip2.equals(ip), ip2);
            assertTrue(PodHttp.get(second, webIp(), 8080, "/").startsWith("HTTP/1.1 200"));
            assertEquals(0, plugin("DEL", "c0ffee02", path, config("")).status());
        }
        assertTrue(statusLine("IPAM").endsWith("(CNI plugin: 1)"), statusLine("IPAM"));
    }

    @Test
    @Order(4)
    void checkPassesAfterAddAndFailsOnceTheVethIsGone() throws Exception {
        String withPrev = config(",\"prevResult\":" + added);
        Run ok = plugin("CHECK", sandboxPath, withPrev);
        assertEquals(0, ok.status(), ok.stdout() + ok.stderr());
        assertEquals("", ok.stdout().strip());

        NetNs.existing(node.netns()).ip("link", "del", added.at("/interfaces/0/name").asText());
        Run broken = plugin("CHECK", sandboxPath, withPrev);
        assertEquals(1, broken.status());
        assertEquals(101, broken.json().get("code").asInt(), broken.stdout());
        assertTrue(broken.json().get("msg").asText().contains("is gone"), broken.stdout());
    }

    @Test
    @Order(5)
    void delIsIdempotentAlsoWithoutTheNamespace() throws Exception {
        Run del = plugin("DEL", sandboxPath, config(""));
        assertEquals(0, del.status(), del.stdout() + del.stderr());
        assertEquals("", del.stdout().strip());
        assertTrue(statusLine("IPAM").endsWith("(CNI plugin: 0)"), statusLine("IPAM"));
        AgentStatus s = StatusFile.read(lab.layout(node.name()).statusFile()).orElseThrow();
        assertTrue(s.endpoints().stream().noneMatch(e -> e.pod().equals("cni-pod")), s.endpoints().toString());

        assertEquals(0, plugin("DEL", sandboxPath, config("")).status(), "a second DEL");
        sandbox.close();
        assertFalse(Files.exists(Path.of(sandboxPath)));
        Run gone = plugin("DEL", null, config(""));
        assertEquals(0, gone.status(), "DEL without CNI_NETNS, the namespace gone: " + gone.stdout());
    }

    @Test
    @Order(6)
    void badConfigurationGetsTheSpecsErrorObject() throws Exception {
        Run notJson = plugin("ADD", "/run/netns/" + node.netns(), "{\"cniVersion\":");
        assertEquals(1, notJson.status());
        assertEquals(6, notJson.json().get("code").asInt());
        assertFalse(notJson.json().get("msg").asText().isEmpty());

        Run noType = plugin("ADD", "/run/netns/" + node.netns(), "{\"cniVersion\":\"1.0.0\",\"name\":\"sluice\"}");
        assertEquals(1, noType.status());
        assertEquals(7, noType.json().get("code").asInt());
        assertEquals("the network configuration has no 'type'", noType.json().get("msg").asText());

        Run noAgent = plugin("ADD", "/run/netns/" + node.netns(),
                "{\"cniVersion\":\"1.0.0\",\"name\":\"sluice\",\"type\":\"sluice-cni\",\"agentSocket\":\"/run/sluice/no-such-agent.sock\"}");
        assertEquals(11, noAgent.json().get("code").asInt(), noAgent.stdout());
        assertTrue(statusLine("IPAM").endsWith("(CNI plugin: 0)"), "nothing was allocated: " + statusLine("IPAM"));
    }
}
