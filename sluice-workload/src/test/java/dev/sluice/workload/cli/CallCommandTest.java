package dev.sluice.workload.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.workload.EchoServer;
import dev.sluice.workload.Identity;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CallCommandTest {
    private static EchoServer server;
    private static String target;

    @BeforeAll
    static void start() throws IOException {
        server = EchoServer.start(new Identity("product-v1-7c9f-abcde", "shop", "n1", Map.of("version", "v1")),
                InetAddress.getLoopbackAddress(), List.of(0));
        target = "127.0.0.1:" + server.boundPorts().getFirst();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private record Run(int exitCode, List<String> lines, String err) {
    }

    private static Run call(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exitCode = new CommandLine(new CallCommand())
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true))
                .execute(args);
        return new Run(exitCode, out.toString().lines().toList(), err.toString());
    }

    @Test
    void grpcIsTheDefaultAndPrintsOneLinePerCall() {
        Run run = call("-n", "3", target);
        assertEquals(0, run.exitCode());
        assertEquals(List.of(
                "1: product-v1-7c9f-abcde (version v1, node n1) over grpc",
                "2: product-v1-7c9f-abcde (version v1, node n1) over grpc",
                "3: product-v1-7c9f-abcde (version v1, node n1) over grpc"), run.lines());
    }

    @Test
    void httpCallsSayHttp11() {
        Run run = call("--http", "--path", "/products", target);
        assertEquals(0, run.exitCode());
        assertEquals(List.of("1: product-v1-7c9f-abcde (version v1, node n1) over HTTP/1.1"), run.lines());
    }

    @Test
    void healthPrintsTheStatus() {
        Run run = call("--health", "-n", "2", "--timeout", "3s", target);
        assertEquals(0, run.exitCode());
        assertEquals(List.of("1: SERVING", "2: SERVING"), run.lines());
    }

    @Test
    void jsonOutputIsOneObjectPerLine() throws Exception {
        Run run = call("-o", "json", "-n", "2", target);
        assertEquals(0, run.exitCode());
        assertEquals(2, run.lines().size());
        JsonNode second = new ObjectMapper().readTree(run.lines().get(1));
        assertEquals(2, second.get("call").asInt());
        assertTrue(second.get("ok").asBoolean());
        assertEquals("grpc", second.get("protocol").asText());
        assertEquals("product-v1-7c9f-abcde", second.get("identity").get("pod").asText());
        assertEquals("v1", second.get("identity").get("version").asText());
    }

    @Test
    void everyCallToAClosedPortFailsAndTheExitCodeIsOne() throws IOException {
        String closed = "127.0.0.1:" + closedPort();
        Run grpc = call("-n", "2", closed);
        assertEquals(1, grpc.exitCode());
        assertEquals(2, grpc.lines().size());
        assertTrue(grpc.lines().get(0).startsWith("1: failed: UNAVAILABLE"), grpc.lines().get(0));
        assertTrue(grpc.lines().get(1).startsWith("2: failed: UNAVAILABLE"), grpc.lines().get(1));

        Run http = call("--http", "-o", "json", closed);
        assertEquals(1, http.exitCode());
        JsonNode line = new ObjectMapper().readTree(http.lines().getFirst());
        assertEquals(false, line.get("ok").asBoolean());
        assertTrue(line.hasNonNull("error"));
    }

    @Test
    void refusesConflictingModesAndBadArguments() {
        assertEquals(2, call("--grpc", "--http", target).exitCode());
        assertEquals(2, call("--timeout", "soon", target).exitCode());
        assertEquals(2, call("127.0.0.1").exitCode());
        assertEquals(2, call("-o", "yaml", target).exitCode());
    }

    private static int closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
