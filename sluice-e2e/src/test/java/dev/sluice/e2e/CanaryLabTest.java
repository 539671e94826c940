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
        return calls("deploy/client", n, target);
    }

    private Map<String, Integer> calls(String from, int n, String target) throws Exception {
        // A cold client's first connect can take 2 s on the loaded machine (ProxyProcessLabTest): a generous limit.
        Process p = lab.execAsync(from, JavaCommand.sluice("call", "--same-connection", "-n", Integer.toString(n), "-o", "json",
                "--timeout", "10s", target));
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
                "--timeout", "10s", "product-service:50051"));
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

    /** {@code sluice ARGS --lab LAB} in this JVM: exit code and output. */
    private String[] sluice(String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        picocli.CommandLine cli = dev.sluice.cli.Main.commandLine();
        cli.setOut(new java.io.PrintWriter(out));
        cli.setErr(new java.io.PrintWriter(err));
        String[] all = java.util.stream.Stream.concat(java.util.stream.Stream.of(args), java.util.stream.Stream.of("--lab", lab.name()))
                .toArray(String[]::new);
        int exit = cli.execute(all);
        assertEquals(0, exit, String.join(" ", args) + ": " + err);
        return new String[] {out.toString(), err.toString()};
    }

    /** {@code sluice observe FILTERS --since SINCE -o json}: every matching flow of every node since then. */
    private List<dev.sluice.observe.v1.Flow> observe(java.time.Instant since, String... filters) {
        String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.concat(java.util.stream.Stream.of("observe"),
                java.util.stream.Stream.of(filters)), java.util.stream.Stream.of("--since", since.toString(), "-o", "json")).toArray(String[]::new);
        return sluice(args)[0].lines().filter(l -> !l.isBlank()).map(l -> {
            try {
                return dev.sluice.observe.FlowFormat.parseJson(l);
            } catch (Exception e) {
                throw new AssertionError("not a JSON flow: " + l, e);
            }
        }).toList();
    }

    /** The sum of every {@code hubble_http_requests_total} sample of a node's metrics. */
    private double httpRequests(String node) {
        return sluice("metrics", "--node", node)[0].lines().filter(l -> l.startsWith("hubble_http_requests_total{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    /** Polls {@code count} until it reaches {@code expected} (the proxy's records become flows on their own thread). */
    private static <T> T settle(java.util.function.Supplier<T> count, java.util.function.Predicate<T> reached) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        T last = count.get();
        while (!reached.test(last) && System.nanoTime() < deadline) {
            Thread.sleep(200);
            last = count.get();
        }
        Thread.sleep(500); // then once more: nothing beyond it arrives late
        return count.get();
    }

    private static String pod(dev.sluice.observe.v1.Endpoint e) {
        return e.getNamespace() + "/" + e.getPodName();
    }

    @Test
    @Order(6)
    void everyCallThroughTheProxyIsAnL7FlowAndCountedInHubblesHttpMetrics() throws Exception {
        String clientPod = "default/" + lab.pod("deploy/client").name();
        String roguePod = "default/" + lab.pod("deploy/some-rogue-pod").name();
        String clientNode = lab.pod("deploy/client").node();
        java.util.Set<String> productPods = lab.state().pods().stream().filter(p -> "product-service".equals(p.labels().get("app")))
                .map(p -> p.namespace() + "/" + p.name()).collect(java.util.stream.Collectors.toSet());

        // The rogue's 20 calls of the previous test, denied by policy in the proxy: http-request DROPPED, naming the policy.
        java.time.Instant anHourAgo = java.time.Instant.now().minusSeconds(3600);
        List<dev.sluice.observe.v1.Flow> denied = observe(anHourAgo, "--type", "l7", "--verdict", "DROPPED", "--from-pod", roguePod);
        assertEquals(20, denied.size(), denied.toString());
        for (var f : denied) {
            assertEquals("Policy denied", f.getDropReasonDesc());
            assertTrue(f.getL7().getHttp().getHeadersList().stream().anyMatch(h -> h.getValue().contains("product-service-from-client")),
                    f.toString());
        }
        System.out.println("[CanaryLabTest] a denied call as a flow: " + new dev.sluice.observe.FlowFormat(java.time.ZoneId.systemDefault())
                .compact(denied.getFirst()));

        int n = 300;
        double before = httpRequests(clientNode);
        java.time.Instant since = java.time.Instant.now();
        calls(n);
        // Responses (--http-status 200): from a product-service pod back to the client, one per call.
        List<dev.sluice.observe.v1.Flow> responses = settle(() -> observe(since, "--protocol", "http", "--http-status", "200"),
                l -> l.size() >= n);
        assertEquals(n, responses.size());
        for (var f : responses) {
            assertEquals(dev.sluice.observe.v1.L7FlowType.RESPONSE, f.getL7().getType());
            assertTrue(productPods.contains(pod(f.getSource())), f.toString());
            assertEquals(clientPod, pod(f.getDestination()));
            assertTrue(f.getSource().getIdentity() > 255 && f.getDestination().getIdentity() > 255, f.toString());
            assertTrue(f.getL7().getHttp().getUrl().matches("http://product-service:50051/sluice\\.echo\\.v1\\.Echo/Ping"), f.toString());
            assertEquals("HTTP/2", f.getL7().getHttp().getProtocol());
            assertEquals("0", f.getL7().getHttp().getHeadersList().stream().filter(h -> h.getKey().equals("grpc-status"))
                    .findFirst().orElseThrow().getValue());
            assertTrue(f.getL7().getLatencyNs() > 0, f.toString());
            assertEquals("product-service", f.getSourceService().getName());
            assertEquals(dev.sluice.observe.v1.Verdict.FORWARDED, f.getVerdict());
        }
        // Requests: from the client to a product-service pod, to the Service.
        List<dev.sluice.observe.v1.Flow> requests = observe(since, "--protocol", "http", "--from-pod", clientPod, "--http-method", "POST");
        assertEquals(n, requests.size());
        for (var f : requests) {
            assertEquals(dev.sluice.observe.v1.L7FlowType.REQUEST, f.getL7().getType());
            assertTrue(productPods.contains(pod(f.getDestination())), f.toString());
            // Named as Hubble names them: workload (the Deployment), labels and identity of both sides.
            assertEquals("client", f.getSource().getWorkloads(0).getName(), f.toString());
            assertTrue(f.getDestination().getWorkloads(0).getName().startsWith("product-service-v"), f.toString());
            assertTrue(f.getSource().getLabelsList().contains("k8s:app=client"), f.toString());
            assertTrue(f.getDestination().getLabelsList().contains("k8s:app=product-service"), f.toString());
            assertEquals("product-service", f.getDestinationService().getName());
        }
        assertEquals(2 * n, observe(since, "--type", "l7").size());
        assertEquals(2 * n, observe(since, "--http-path", "^/sluice\\.echo\\.v1\\.Echo/").size());
        assertEquals(0, observe(since, "--protocol", "http", "--http-method", "GET").size());
        assertEquals(0, observe(since, "--http-status", "5+").size());
        System.out.println("[CanaryLabTest] sluice observe --protocol http, the last call:\n" + sluice("observe", "--protocol", "http",
                "--last", "2")[0]);

        double counted = settle(() -> httpRequests(clientNode) - before, d -> d >= n);
        System.out.println("[CanaryLabTest] hubble_http_requests_total on " + clientNode + " went up by " + counted + " for " + n + " calls");
        assertEquals(n, counted, 0.0);
        String metrics = sluice("metrics", "--node", clientNode)[0];
        assertTrue(metrics.contains("hubble_http_requests_total{method=\"POST\",protocol=\"HTTP/2\",reporter=\"client\"}"), metrics);
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("hubble_http_request_duration_seconds_bucket{method=\"POST\",reporter=\"client\",le=\"0.005\"}")),
                metrics);
    }

    /**
     * Identity-preserving forwarding: the proxy connects to the backends from its clients' addresses, so the
     * backends' own datapaths judge the callers by identity (the seed's policy: L3/L4 only, no HTTP rules). A second
     * pod labelled {@code app: client} (fresh connections, so the kernel decides new flows) calls through the
     * proxy: every call answers, and the backends' policy-verdict flows name it with its identity, not the node's.
     * The rogue's calls through the proxy are dropped by the backends' datapath, each a kernel drop naming the
     * rogue's identity; the proxy answers PERMISSION_DENIED saying so.
     */
    @Test
    @Order(7)
    void theBackendsDatapathJudgesTheCallersOwnIdentityThroughTheProxy(@TempDir Path dir) throws Exception {
        Path second = dir.resolve("second-client.yaml");
        Files.writeString(second, """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: second-client
                spec:
                  replicas: 1
                  selector:
                    matchLabels:
                      app: client
                      role: second
                  template:
                    metadata:
                      labels:
                        app: client
                        role: second
                    spec:
                      containers:
                      - name: client
                        image: sluice/toolbox
                        command: ["sleep", "infinity"]
                """);
        lab.apply(ManifestReader.read(List.of(second)));
        String a = "default/" + lab.pod("deploy/second-client").name();
        String b = "default/" + lab.pod("deploy/some-rogue-pod").name();
        java.util.Set<String> productPods = lab.state().pods().stream().filter(p -> "product-service".equals(p.labels().get("app")))
                .map(p -> p.namespace() + "/" + p.name()).collect(java.util.stream.Collectors.toSet());
        java.time.Instant since = java.time.Instant.now();

        Map<String, Integer> versions = calls("deploy/second-client", 400, "product-service:50051");
        Process p = lab.execAsync("deploy/some-rogue-pod", JavaCommand.sluice("call", "-n", "10", "-o", "json",
                "--timeout", "10s", "product-service:50051"));
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        List<String> rogueCalls = out.lines().filter(l -> l.startsWith("{")).toList();
        assertEquals(10, rogueCalls.size(), out);
        for (String line : rogueCalls) {
            JsonNode call = JSON.readTree(line);
            assertTrue(!call.path("ok").asBoolean() && call.path("error").asText().contains("PERMISSION_DENIED")
                    && call.path("error").asText().contains("dropped by the backend"), line);
        }

        // Identities as the agents name them (the L7 flows of the same calls).
        int aIdentity = observe(since, "--type", "l7", "--from-pod", a).getFirst().getSource().getIdentity();
        int bIdentity = observe(since, "--type", "l7", "--from-pod", b).getFirst().getSource().getIdentity();
        // The caller's own egress verdict (to the proxy, at its veth) is among its flows; the backends' are those to their pods.
        List<dev.sluice.observe.v1.Flow> admitted = settle(() -> observe(since, "--type", "policy-verdict", "--from-pod", a).stream()
                .filter(f -> productPods.contains(pod(f.getDestination()))).toList(), l -> l.size() >= 2);
        List<dev.sluice.observe.v1.Flow> drops = settle(() -> observe(since, "--type", "drop", "--from-pod", b), l -> l.size() >= 10);
        var format = new dev.sluice.observe.FlowFormat(java.time.ZoneId.systemDefault());
        System.out.println("[CanaryLabTest] through the proxy: " + versions + " from " + a + " (identity " + aIdentity + "), "
                + admitted.size() + " policy-verdict flow(s) at the backends, e.g. " + format.compact(admitted.getFirst())
                + "; the rogue (identity " + bIdentity + "): " + drops.size() + " kernel drop(s), e.g. " + format.compact(drops.getFirst()));
        assertTrue(aIdentity > 255 && bIdentity > 255 && aIdentity != bIdentity, aIdentity + " " + bIdentity);
        assertTrue(!admitted.isEmpty(), "no policy-verdict flow from " + a + " at a backend");
        java.util.Set<String> answering = new java.util.TreeSet<>();
        for (var f : admitted) {
            assertTrue(productPods.contains(pod(f.getDestination())), f.toString());
            assertEquals(aIdentity, f.getSource().getIdentity(), "the backend saw the caller's identity, not the node's: " + f);
            assertEquals(dev.sluice.observe.v1.Verdict.FORWARDED, f.getVerdict(), f.toString());
            assertEquals(dev.sluice.observe.v1.TrafficDirection.INGRESS, f.getTrafficDirection(), f.toString());
            answering.add(f.getNodeName());
        }
        // Backends on both nodes: the replies of the other node's come back over the uplink to the proxy's socket.
        assertEquals(2, answering.size(), "backends' nodes that judged the caller: " + answering);
        assertTrue(drops.size() >= 10, drops.toString());
        for (var f : drops) {
            assertTrue(productPods.contains(pod(f.getDestination())), f.toString());
            assertEquals(bIdentity, f.getSource().getIdentity(), f.toString());
            assertEquals(dev.sluice.observe.v1.Verdict.DROPPED, f.getVerdict(), f.toString());
            assertEquals("Policy denied", f.getDropReasonDesc(), f.toString());
            assertEquals(dev.sluice.observe.v1.TrafficDirection.INGRESS, f.getTrafficDirection(), f.toString());
            assertEquals(50051, f.getL4().getTCP().getDestinationPort(), f.toString());
        }
        String node = lab.pod("deploy/second-client").node();
        assertTrue(proxyLine(node).contains("forwarding from the clients' addresses"), proxyLine(node));
    }
}
