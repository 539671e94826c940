package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.cli.Main;
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

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gateway API mesh routes (GAMMA) in the lab: a GRPCRoute splitting the seed's product-service 90/10 between
 * Services product-service-v1 and -v2 over one HTTP/2 connection, re-weighted to 50/50 by {@code lab apply} under
 * load; an HTTPRoute on a second Service sending {@code x-canary: true} to v2 only and everything else to v1,
 * then 90/10; a backendRef to a missing Service answered 500; the routes' status in {@code sluice lab get routes}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GatewayRoutesLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path VALUES = LabTest.ROOT.resolve("examples/seed/cilium-values.yaml");
    private static final Path EXAMPLES = LabTest.ROOT.resolve("examples/gateway-api");
    private static final Path GRPC_ROUTE = EXAMPLES.resolve("grpcroute-canary.yaml");
    private static final Path HTTP_ROUTE = EXAMPLES.resolve("httproute-header.yaml");
    private Lab lab;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("gw");
        lab.up(2, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT, EXAMPLES.resolve("product-service-versions.yaml"))), VALUES);
        lab.apply(ManifestReader.read(List.of(GRPC_ROUTE, HTTP_ROUTE)));
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    /** {@code sluice call} from the client pod; one JSON object per call. */
    private List<JsonNode> call(String... args) throws Exception {
        // A generous per-call limit: the first call of a new client JVM connects cold, and on this 2-core machine
        // under other builds (load 15) that alone has taken 1.5-1.9 s; what is tested is that no call fails.
        List<String> command = new ArrayList<>(List.of("call", "-o", "json", "--timeout", "10s"));
        command.addAll(List.of(args));
        Process p = lab.execAsync("deploy/client", JavaCommand.sluice(command.toArray(String[]::new)));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS));
        List<JsonNode> calls = new ArrayList<>();
        for (String line : out.lines().filter(l -> l.startsWith("{")).toList()) {
            calls.add(JSON.readTree(line));
        }
        return calls;
    }

    private static String version(JsonNode call) {
        return call.path("identity").path("labels").path("version").asText();
    }

    /** Versions that answered; every call must have succeeded. */
    private static Map<String, Integer> versions(List<JsonNode> calls, int expected) {
        List<String> failed = calls.stream().filter(c -> !c.path("ok").asBoolean()).map(JsonNode::toString).limit(3).toList();
        assertEquals(List.of(), failed, "failed calls");
        assertEquals(expected, calls.size());
        Map<String, Integer> versions = new TreeMap<>();
        calls.forEach(c -> versions.merge(version(c), 1, Integer::sum));
        return versions;
    }

    private List<String> routeLines() {
        String node = lab.pod("deploy/client").node();
        AgentStatus s = StatusFile.read(lab.layout(node).statusFile()).orElseThrow();
        return s.lines().stream().filter(l -> l.key().equals("Route")).map(AgentStatus.Line::value).toList();
    }

    @Test
    @Order(1)
    void aGrpcRouteSplitsTenThousandCallsOnOneConnectionNinetyTen() throws Exception {
        Map<String, Integer> versions = versions(call("--same-connection", "-n", "10000", "product-service:50051"), 10_000);
        double v2 = 100.0 * versions.getOrDefault("v2", 0) / 10_000;
        System.out.println("[GatewayRoutesLabTest] GRPCRoute, 10,000 calls on one connection: " + versions + " (v2 " + v2 + " %)");
        assertTrue(Math.abs(v2 - 10.0) <= 1.5, "v2 got " + v2 + " %: " + versions);
        List<String> routes = routeLines();
        assertTrue(routes.contains("GRPCRoute default/product-service-canary -> Service default/product-service:50051: "
                + "Accepted=True (Accepted), ResolvedRefs=True (ResolvedRefs)"), routes.toString());
    }

    @Test
    @Order(2)
    void reweightedByLabApplyUnderLoadTheSplitFollowsWithoutAFailedCall(@TempDir Path dir) throws Exception {
        Path fifty = dir.resolve("grpcroute-50.yaml");
        Files.writeString(fifty, Files.readString(GRPC_ROUTE).replace("weight: 90", "weight: 50").replace("weight: 10", "weight: 50"));
        Process p = lab.execAsync("deploy/client", JavaCommand.sluice("call", "-o", "json", "--timeout", "10s", "--same-connection", "-n", "30000",
                "product-service:50051"));
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                r.lines().filter(l -> l.startsWith("{")).forEach(lines::add);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        // Let calls run at 90/10 for a while, then change the weights under them.
        long waitUntil = System.currentTimeMillis() + 30_000;
        while (lines.size() < 2_000 && System.currentTimeMillis() < waitUntil) {
            Thread.sleep(50);
        }
        long applyStart = System.currentTimeMillis();
        lab.apply(ManifestReader.read(List.of(fifty)));
        long applied = System.currentTimeMillis();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "calls did not finish");
        reader.join();
        List<JsonNode> calls = new ArrayList<>();
        for (String line : lines) {
            calls.add(JSON.readTree(line));
        }
        versions(calls, 30_000); // every call succeeded, before, during and after the change
        Map<String, Integer> before = new TreeMap<>();
        Map<String, Integer> during = new TreeMap<>();
        Map<String, Integer> firstSecond = new TreeMap<>();
        Map<String, Integer> after = new TreeMap<>();
        for (JsonNode c : calls) {
            long at = c.path("atMs").asLong();
            Map<String, Integer> bucket = at < applyStart ? before : at < applied ? during : at < applied + 1_000 ? firstSecond : after;
            bucket.merge(version(c), 1, Integer::sum);
        }
        System.out.println("[GatewayRoutesLabTest] re-weighted under load: before the apply " + before + ", during it ("
                + (applied - applyStart) + " ms) " + during + ", first second after " + firstSecond + ", later " + after);
        int beforeTotal = before.values().stream().mapToInt(Integer::intValue).sum();
        int sinceTotal = firstSecond.values().stream().mapToInt(Integer::intValue).sum();
        int afterTotal = after.values().stream().mapToInt(Integer::intValue).sum();
        assertTrue(beforeTotal >= 1_000 && sinceTotal + afterTotal >= 2_000, "too few calls around the change");
        double v2Before = 100.0 * before.getOrDefault("v2", 0) / beforeTotal;
        assertTrue(Math.abs(v2Before - 10.0) <= 3.0, "before: v2 " + v2Before + " %");
        // The apply returns once every agent applied it: from then on the proxies split 50/50.
        double v2Since = 100.0 * (firstSecond.getOrDefault("v2", 0) + after.getOrDefault("v2", 0)) / (sinceTotal + afterTotal);
        assertTrue(Math.abs(v2Since - 50.0) <= 5.0, "after the apply: v2 " + v2Since + " %");
        assertTrue(applied - applyStart < 1_000, "lab apply took " + (applied - applyStart) + " ms");
    }

    @Test
    @Order(3)
    void anHttpRouteSendsTheCanaryHeaderToV2OnlyAndEverythingElseToV1() throws Exception {
        Map<String, Integer> canaryHttp = versions(call("--http", "-n", "100", "--header", "x-canary:true", "product-http:8080"), 100);
        Map<String, Integer> canaryGrpc = versions(call("--same-connection", "-n", "1000", "--header", "x-canary:true", "product-http:8080"), 1_000);
        Map<String, Integer> plainHttp = versions(call("--http", "-n", "100", "product-http:8080"), 100);
        Map<String, Integer> plainGrpc = versions(call("--same-connection", "-n", "1000", "--header", "x-canary:false", "product-http:8080"), 1_000);
        System.out.println("[GatewayRoutesLabTest] HTTPRoute: x-canary: true over HTTP/1.1 " + canaryHttp + ", over gRPC " + canaryGrpc
                + "; without it over HTTP/1.1 " + plainHttp + ", x-canary: false over gRPC " + plainGrpc);
        assertEquals(Map.of("v2", 100), canaryHttp);
        assertEquals(Map.of("v2", 1_000), canaryGrpc);
        assertEquals(Map.of("v1", 100), plainHttp);
        assertEquals(Map.of("v1", 1_000), plainGrpc);
    }

    @Test
    @Order(4)
    void anHttpRouteSplitsTenThousandCallsOnOneConnectionNinetyTen(@TempDir Path dir) throws Exception {
        Path split = dir.resolve("httproute-split.yaml");
        Files.writeString(split, Files.readString(HTTP_ROUTE).replace("""
                  - backendRefs:
                    - name: product-service-v1
                      port: 50051
                """, """
                  - backendRefs:
                    - name: product-service-v1
                      port: 50051
                      weight: 90
                    - name: product-service-v2
                      port: 50051
                      weight: 10
                """));
        assertTrue(Files.readString(split).contains("weight: 90"));
        lab.apply(ManifestReader.read(List.of(split)));
        Map<String, Integer> versions = versions(call("--same-connection", "-n", "10000", "product-http:8080"), 10_000);
        double v2 = 100.0 * versions.getOrDefault("v2", 0) / 10_000;
        System.out.println("[GatewayRoutesLabTest] HTTPRoute, 10,000 calls on one connection: " + versions + " (v2 " + v2 + " %)");
        assertTrue(Math.abs(v2 - 10.0) <= 1.5, "v2 got " + v2 + " %: " + versions);
    }

    @Test
    @Order(5)
    void aMissingBackendIsReportedAndAnswered500AndLabGetRoutesShowsTheConditions(@TempDir Path dir) throws Exception {
        Path broken = dir.resolve("broken.yaml");
        Files.writeString(broken, """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata:
                  name: broken
                  namespace: default
                spec:
                  parentRefs: [{group: "", kind: Service, name: product-http, port: 8080}]
                  rules:
                  - matches: [{path: {type: Exact, value: /broken}}]
                    backendRefs: [{name: product-service-v9, port: 50051}]
                """);
        lab.apply(ManifestReader.read(List.of(broken)));
        List<JsonNode> calls = call("--http", "-n", "3", "--path", "/broken", "product-http:8080");
        assertEquals(3, calls.size());
        calls.forEach(c -> assertTrue(!c.path("ok").asBoolean() && c.path("error").asText().contains("500"), c.toString()));
        // Other paths still take the HTTPRoute's other rules.
        assertEquals(Map.of("v2", 10), versions(call("--http", "-n", "10", "--header", "x-canary:true", "product-http:8080"), 10));

        StringWriter text = new StringWriter();
        int exit = Main.commandLine().setOut(new PrintWriter(text, true)).execute("lab", "get", "routes", "--lab", lab.name());
        String out = text.toString();
        System.out.println("[GatewayRoutesLabTest] sluice lab get routes:\n" + out);
        assertEquals(0, exit, out);
        assertTrue(out.contains("GRPCRoute default/product-service-canary -> Service default/product-service:50051: Accepted=True (Accepted), ResolvedRefs=True (ResolvedRefs)"), out);
        assertTrue(out.contains("HTTPRoute default/product-http-canary -> Service default/product-http:8080: Accepted=True (Accepted), ResolvedRefs=True (ResolvedRefs)"), out);
        assertTrue(out.contains("HTTPRoute default/broken -> Service default/product-http:8080: Accepted=True (Accepted), ResolvedRefs=False (BackendNotFound: "
                + "no Service (with that port) for backendRef(s) default/product-service-v9:50051"), out);
    }

    @Test
    @Order(6)
    void aRouteSluiceCannotImplementIsRefusedByLabApplyNamingFileAndField(@TempDir Path dir) throws Exception {
        Path redirect = dir.resolve("redirect.yaml");
        Files.writeString(redirect, """
                apiVersion: gateway.networking.k8s.io/v1
                kind: HTTPRoute
                metadata:
                  name: redirect
                  namespace: default
                spec:
                  parentRefs: [{group: "", kind: Service, name: product-http, port: 8080}]
                  rules:
                  - filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]
                """);
        StringWriter text = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.commandLine().setOut(new PrintWriter(text, true)).setErr(new PrintWriter(err, true))
                .execute("lab", "apply", "-f", redirect.toString(), "--lab", lab.name());
        String all = text + "\n" + err;
        assertTrue(exit != 0, all);
        assertTrue(all.contains("redirect.yaml, document 1 (HTTPRoute default/redirect): field spec.rules[0].filters[0].type: RequestRedirect is not supported"), all);
        // Nothing changed: the routes in force still answer, and the refused route is not among them.
        versions(call("--http", "-n", "10", "--path", "/x", "product-http:8080"), 10);
        assertTrue(routeLines().stream().noneMatch(l -> l.contains("redirect")), routeLines().toString());
    }
}
