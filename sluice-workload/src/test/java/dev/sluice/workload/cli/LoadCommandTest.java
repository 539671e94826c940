package dev.sluice.workload.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.workload.EchoServer;
import dev.sluice.workload.Identity;
import dev.sluice.workload.load.LoadResult;
import dev.sluice.workload.load.LoadSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code sluice load}'s fortio flags, and short real runs against the echo workload on loopback. Counts and codes
 * are asserted, never timings (performance is in docs/benchmarks.md).
 */
class LoadCommandTest {
    private static EchoServer server;
    private static int port;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws IOException {
        server = EchoServer.start(new Identity("product-v1-7c9f-abcde", "default", "n1", Map.of("version", "v1")),
                InetAddress.getLoopbackAddress(), List.of(0));
        port = server.boundPorts().getFirst();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private record Run(int exitCode, String out, String err) {
    }

    private static Run load(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = new CommandLine(new LoadCommand())
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true))
                .execute(args);
        return new Run(exitCode, out.toString(), err.toString());
    }

    private static LoadSpec parse(String... args) {
        LoadCommand command = new LoadCommand();
        new CommandLine(command).parseArgs(args);
        return command.loadSpec();
    }

    @Test
    void readsFortiosFlagsForTheSeedsCommand() {
        LoadSpec spec = parse("-grpc", "-qps", "1000", "-t", "60s", "-c", "50", "-json", "out.json", "product-service:50051");
        assertEquals(new LoadSpec.Grpc("product-service", 50051, false, 0), spec.target());
        assertEquals(1000, spec.qps());
        assertEquals(Duration.ofSeconds(60), spec.duration());
        assertEquals(50, spec.connections());
        assertEquals(List.of(50.0, 75.0, 90.0, 99.0, 99.9), spec.percentiles());
        assertEquals(Duration.ofSeconds(3), spec.timeout());

        LoadSpec ping = parse("-grpc", "-ping", "-payload-size", "1024", "-p", "50, 99.99", "-timeout", "500ms",
                "-json", "-", "10.96.0.20:50051");
        assertEquals(new LoadSpec.Grpc("10.96.0.20", 50051, true, 1024), ping.target());
        assertEquals(List.of(50.0, 99.99), ping.percentiles());
        assertEquals(Duration.ofMillis(500), ping.timeout());

        LoadSpec http = parse("-qps", "0", "-t", "1m", "-c", "8", "http://product-service:8080/products?id=1");
        LoadSpec.Http target = assertInstanceOf(LoadSpec.Http.class, http.target());
        assertEquals(8080, target.port());
        assertEquals("/products?id=1", target.pathAndQuery());
        assertFalse(http.openLoop());
        assertEquals("/", new LoadSpec.Http(URI.create("http://a")).pathAndQuery());
    }

    @Test
    void badFlagsAreRefusedNamingTheFlag() {
        assertMessage("-qps", "-grpc", "-qps", "-5", "a:1");
        assertMessage("-c", "-grpc", "-c", "0", "a:1");
        assertMessage("-p", "-grpc", "-p", "50,x", "a:1");
        assertMessage("-p", "-grpc", "-p", "101", "a:1");
        assertMessage("-payload-size needs -ping", "-grpc", "-payload-size", "10", "a:1");
        assertMessage("-ping and -payload-size are for -grpc", "-ping", "http://a/");
        assertMessage("give -grpc", "a:1");
        assertMessage("not HOST:PORT", "-grpc", "nohost");
        assertMessage("-grpc takes HOST:PORT", "-grpc", "http://a:1/");
        assertEquals(2, load("-grpc", "-t", "soon", "a:1").exitCode());
        assertEquals(2, load("-grpc", "-qps", "many", "a:1").exitCode());
    }

    private static void assertMessage(String expected, String... args) {
        var e = assertThrows(CommandLine.ParameterException.class, () -> parse(args));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        Run run = load(args);
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains(expected), run.err());
    }

    @Test
    void grpcHealthChecksAtASmallRateWithJson() throws IOException {
        Path json = dir.resolve("grpc.json");
        Run run = load("-grpc", "-qps", "40", "-t", "1s", "-c", "4", "-json", json.toString(), "127.0.0.1:" + port);
        assertEquals(0, run.exitCode(), run.err());
        LoadResult r = LoadResult.read(json);
        assertEquals("GRPC Health", r.runType());
        assertEquals(Map.of("SERVING", 40L), r.retCodes(), "40 qps for 1 s: 40 calls, all SERVING");
        assertEquals(40, r.sluice().plannedRequests());
        assertEquals(40, r.durationHistogram().count());
        assertEquals(40, r.sluice().uncorrected().count());
        assertEquals(0, r.errors());
        assertEquals(4, r.sluice().warmupRequests());
        assertEquals("corrected", r.sluice().coordinatedOmission());
        assertTrue(run.out().contains("SERVING : 40 (100.0 %)"), run.out());
        assertTrue(run.out().contains("# target 99.9% "), run.out());
        assertTrue(run.out().startsWith("Starting at 40 qps with 4 connection(s) for 1s"), run.out());
    }

    @Test
    void grpcPingsWithAPayloadAndJsonOnStdout() throws IOException {
        Run run = load("-grpc", "-ping", "-payload-size", "512", "-qps", "30", "-t", "1s", "-c", "3", "-json", "-",
                "127.0.0.1:" + port);
        assertEquals(0, run.exitCode(), run.err());
        LoadResult r = LoadResult.parse(run.out());
        assertEquals("GRPC Ping", r.runType());
        assertEquals(Map.of("OK", 30L), r.retCodes());
        assertTrue(run.err().contains("Ping OK : 30 (100.0 %)"), "the text goes to stderr: " + run.err());
    }

    @Test
    void httpGetsOverKeepAliveConnections() throws IOException {
        Path json = dir.resolve("http.json");
        Run run = load("-qps", "20", "-t", "1s", "-c", "2", "-json", json.toString(),
                "http://127.0.0.1:" + port + "/products");
        assertEquals(0, run.exitCode(), run.err());
        LoadResult r = LoadResult.read(json);
        assertEquals("HTTP", r.runType());
        assertEquals(Map.of("200", 20L), r.retCodes());
        assertEquals("http://127.0.0.1:" + port + "/products", r.url());
        assertTrue(run.out().contains("Code 200 : 20 (100.0 %)"), run.out());
    }

    @Test
    void aWarmupRunsAtTheSameRateAndIsNotCounted() throws IOException {
        Path json = dir.resolve("warm.json");
        Run run = load("-grpc", "-qps", "20", "-t", "1s", "-c", "2", "-warmup", "1s", "-json", json.toString(),
                "127.0.0.1:" + port);
        assertEquals(0, run.exitCode(), run.err());
        LoadResult r = LoadResult.read(json);
        assertEquals(Map.of("SERVING", 20L), r.retCodes());
        assertEquals(2 + 20, r.sluice().warmupRequests(), "one per connection, then 1 s at 20 qps");
        assertTrue(run.out().contains("after a warm-up of 1s"), run.out());
        assertEquals(Duration.ofSeconds(1), parse("-grpc", "-warmup", "1s", "a:1").warmup());
        assertEquals(Duration.ZERO, parse("-grpc", "a:1").warmup());
    }

    @Test
    void closedLoopRunsAtTheMaximumRate() throws IOException {
        Path json = dir.resolve("max.json");
        Run run = load("-grpc", "-qps", "0", "-t", "1s", "-c", "2", "-json", json.toString(), "127.0.0.1:" + port);
        assertEquals(0, run.exitCode(), run.err());
        LoadResult r = LoadResult.read(json);
        assertEquals("max", r.requestedQps());
        assertEquals("closed-loop", r.sluice().coordinatedOmission());
        assertEquals(0, r.errors());
        assertTrue(r.retCodes().get("SERVING") > 0, r.retCodes().toString());
    }

    @Test
    void aClosedPortGivesErrorsByCodeAndExitOne() throws IOException {
        int closed = closedPort();
        Path grpcJson = dir.resolve("down.json");
        Run grpc = load("-grpc", "-qps", "10", "-t", "1s", "-c", "2", "-timeout", "1s", "-json", grpcJson.toString(),
                "127.0.0.1:" + closed);
        assertEquals(1, grpc.exitCode(), "nothing got through");
        LoadResult r = LoadResult.read(grpcJson);
        assertEquals(Map.of("UNAVAILABLE", 10L), r.retCodes());
        assertEquals(10, r.errors());
        assertEquals(0, r.durationHistogram().count());
        assertFalse(r.sluice().errorSamples().isEmpty());

        Path httpJson = dir.resolve("down-http.json");
        Run http = load("-qps", "10", "-t", "1s", "-c", "2", "-timeout", "1s", "-json", httpJson.toString(),
                "http://127.0.0.1:" + closed + "/");
        assertEquals(1, http.exitCode());
        assertEquals(Map.of("-1", 10L), LoadResult.read(httpJson).retCodes(), "connect errors are -1, as fortio's");
    }

    @Test
    void anHttpErrorStatusIsCountedByCode() throws IOException {
        // The echo workload answers every GET with 200; the JDK's own server stands in for a failing backend.
        com.sun.net.httpserver.HttpServer failing = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        failing.createContext("/", exchange -> {
            exchange.sendResponseHeaders(503, -1);
            exchange.close();
        });
        failing.start();
        try {
            Path json = dir.resolve("503.json");
            Run run = load("-qps", "10", "-t", "1s", "-c", "1", "-json", json.toString(),
                    "http://127.0.0.1:" + failing.getAddress().getPort() + "/");
            assertEquals(1, run.exitCode(), run.err());
            LoadResult r = LoadResult.read(json);
            assertEquals(Map.of("503", 10L), r.retCodes());
            assertEquals(10, r.errors());
            assertTrue(run.out().contains("Code 503 : 10 (100.0 %)"), run.out());
        } finally {
            failing.stop(0);
        }
    }

    @Test
    void theSocketModesStillWork() throws Exception {
        Run run = load("--connections", "3", "127.0.0.1:" + port);
        assertEquals(0, run.exitCode(), run.err());
        JsonNode summary = new ObjectMapper().readTree(run.out());
        assertEquals(3, summary.get("requests").asInt());
        assertEquals(3, summary.get("byPod").get("product-v1-7c9f-abcde").asInt());
        assertEquals(2, load("--connections", "1", "nohost").exitCode());
    }

    @Test
    void aJsonFileThatCannotBeWrittenIsNamed() {
        Path missing = dir.resolve("no/such/dir/out.json");
        Run run = load("-grpc", "-qps", "10", "-t", "1s", "-c", "1", "-json", missing.toString(), "127.0.0.1:" + port);
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("cannot write -json " + missing), run.err());
        assertFalse(Files.exists(missing));
    }

    private static int closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
