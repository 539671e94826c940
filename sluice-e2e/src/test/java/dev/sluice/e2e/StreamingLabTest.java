package dev.sluice.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.lab.Lab;
import dev.sluice.linux.JavaCommand;
import dev.sluice.model.ManifestReader;
import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.L7FlowType;
import dev.sluice.testing.Privileged;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * gRPC streams through the node proxy in the lab (issue 11): the seed's canary, a client pod calling the echo
 * workload's streaming methods through {@code product-service:50051}. A server stream and a bidirectional stream of
 * 10,000 messages each arrive complete and in order; a slow reader of a 192 MiB server stream holds the proxy's
 * memory bounded (flow control reaches back to the backend); the streams are L7 flows in {@code sluice observe}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StreamingLabTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path VALUES = LabTest.ROOT.resolve("examples/seed/cilium-values.yaml");
    private static final Path CANARY = LabTest.ROOT.resolve("examples/seed/canary-routing.yaml");
    private static final Pattern PID = Pattern.compile("Ok \\(own process, PID (\\d+),");
    private Lab lab;
    private String node;
    private Instant since;

    @BeforeAll
    void up() throws Exception {
        Privileged.require();
        lab = TestLabs.create("st");
        lab.up(1, ManifestReader.read(List.of(LabTest.SEED, LabTest.CLIENT)), VALUES);
        lab.apply(ManifestReader.read(List.of(CANARY)));
        node = lab.pod("deploy/client").node();
        since = Instant.now().minusSeconds(1);
    }

    @AfterAll
    void down() {
        if (lab != null) {
            TestLabs.down(lab);
        }
    }

    private long proxyPid() throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        String line = "";
        while (System.currentTimeMillis() < deadline) {
            AgentStatus status = StatusFile.read(lab.layout(node).statusFile()).orElseThrow();
            line = status.lines().stream().filter(l -> l.key().equals("Proxy")).map(AgentStatus.Line::value).findFirst().orElse("");
            Matcher m = PID.matcher(line);
            if (m.find()) {
                return Long.parseLong(m.group(1));
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the proxy is not up: " + line);
    }

    private static long rssKib(long pid) throws Exception {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElseThrow();
    }

    /** {@code sluice stream ... -o json product-service:50051} in the client pod: its one result line. */
    private JsonNode stream(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(180, TimeUnit.SECONDS));
        String line = out.lines().filter(l -> l.startsWith("{")).findFirst()
                .orElseThrow(() -> new AssertionError("no result from sluice stream: " + out));
        return JSON.readTree(line);
    }

    private Process start(String... args) {
        String[] all = java.util.stream.Stream.concat(java.util.stream.Stream.of("stream"),
                java.util.stream.Stream.concat(java.util.stream.Stream.of(args), java.util.stream.Stream.of("-o", "json", "product-service:50051")))
                .toArray(String[]::new);
        return lab.execAsync("deploy/client", JavaCommand.sluice(all));
    }

    private static void assertComplete(JsonNode r, long n) {
        assertEquals("OK", r.path("status").asText(), r.toString());
        assertEquals(n, r.path("received").asLong(), r.toString());
        assertEquals(-1, r.path("firstOutOfOrder").asLong(), "out of order: " + r);
        // A stream is one call: one backend, chosen once (90/10 between the versions).
        assertEquals(1, r.path("pods").size(), r.toString());
    }

    @Test
    @Order(1)
    void aServerStreamOfTenThousandMessagesArrivesInOrder() throws Exception {
        JsonNode r = stream(start("--server", "10000", "--size", "100"));
        System.out.println("[StreamingLabTest] server stream: " + r);
        assertComplete(r, 10_000);
    }

    @Test
    @Order(2)
    void aBidirectionalStreamOfTenThousandMessagesIsEchoedInOrder() throws Exception {
        JsonNode r = stream(start("--bidi", "10000", "--size", "100"));
        System.out.println("[StreamingLabTest] bidi stream: " + r);
        assertComplete(r, 10_000);
    }

    @Test
    @Order(3)
    void aSlowReaderDoesNotMakeTheProxyBufferTheStream() throws Exception {
        long pid = proxyPid();
        long before = rssKib(pid);
        // 3,072 messages of 64 KiB (192 MiB), read one every 2 ms: the backend could send it all in well under a second,
        // so what the proxy does not hold back it would have to hold. Its heap and direct memory are 64 MiB each.
        Process p = start("--server", "3072", "--size", "65536", "--read-delay", "2ms", "--timeout", "170s");
        long peak = before;
        while (p.isAlive()) {
            peak = Math.max(peak, rssKib(pid));
            Thread.sleep(100);
        }
        JsonNode r = stream(p);
        System.out.println("[StreamingLabTest] slow reader: " + r.path("received") + " x 64 KiB in " + r.path("millis") + " ms; proxy RSS "
                + before / 1024 + " MiB before, peak " + peak / 1024 + " MiB");
        assertComplete(r, 3072);
        assertTrue(r.path("millis").asLong() >= 3072 * 2, "the reader was slow: " + r);
        assertTrue(peak - before < 48 * 1024, "the proxy's RSS grew by " + (peak - before) / 1024 + " MiB for a 192 MiB stream");
    }

    @Test
    @Order(4)
    void theStreamsAreL7FlowsInObserve() throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        List<Flow> flows = List.of();
        while (System.currentTimeMillis() < deadline) {
            CliRun run = CliRun.of(lab, "observe", "--protocol", "http", "--http-path", "^/sluice\\.echo\\.v1\\.Echo/(Count|Chat)$",
                    "--since", since.toString(), "-o", "json");
            flows = run.flows();
            if (flows.stream().filter(f -> f.getL7().getType() == L7FlowType.RESPONSE).count() >= 4) {
                break;
            }
            Thread.sleep(300);
        }
        List<Flow> responses = flows.stream().filter(f -> f.getL7().getType() == L7FlowType.RESPONSE).toList();
        System.out.println("[StreamingLabTest] " + flows.size() + " L7 flows of the streams, responses: "
                + responses.stream().map(f -> f.getL7().getHttp().getUrl() + " " + f.getL7().getHttp().getCode()).toList());
        // Count twice (10,000 messages; the slow reader) and Chat once: one response flow each.
        assertEquals(3, responses.size(), responses.toString());
        assertEquals(2, responses.stream().filter(f -> f.getL7().getHttp().getUrl().endsWith("/sluice.echo.v1.Echo/Count")).count());
        assertEquals(1, responses.stream().filter(f -> f.getL7().getHttp().getUrl().endsWith("/sluice.echo.v1.Echo/Chat")).count());
        for (Flow f : responses) {
            assertEquals(200, f.getL7().getHttp().getCode(), f.toString());
            assertEquals("0", f.getL7().getHttp().getHeadersList().stream().filter(h -> h.getKey().equals("grpc-status"))
                    .map(h -> h.getValue()).findFirst().orElse(""), f.toString());
        }
    }
}
