package dev.sluice.workload;

import dev.sluice.workload.cli.WorkloadCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs {@link EchoMain} and {@code sluice echo-server} as processes: signals are process-wide, so they cannot be
 * tried inside the test JVM. The servers listen on loopback only.
 */
class EchoProcessTest {
    private static final Pattern LISTENING = Pattern.compile("echo: (\\S+)/(\\S+) listening on (\\d+),(\\d+)");
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @ParameterizedTest
    @ValueSource(strings = {"TERM", "INT"})
    void echoMainServesUntilSignalledThenExitsZero(String signal) throws Exception {
        Process echo = java(EchoMain.class, List.of(), Map.of(
                "SLUICE_POD", "product-v1-abc", "SLUICE_NAMESPACE", "shop", "SLUICE_NODE", "n1",
                "SLUICE_LABELS", "app=product,version=v1", "SLUICE_PORTS", "0,0", "SLUICE_BIND", "127.0.0.1"));
        try {
            Matcher listening = firstLine(echo);
            assertEquals("shop", listening.group(1));
            assertEquals("product-v1-abc", listening.group(2));
            int grpcPort = Integer.parseInt(listening.group(3));
            int httpPort = Integer.parseInt(listening.group(4));
            assertEquals("product-v1-abc", EchoClient.grpcPing("127.0.0.1", grpcPort, TIMEOUT).identity().pod());
            assertEquals("v1", EchoClient.http("127.0.0.1", httpPort, "/", TIMEOUT).identity().version());

            new ProcessBuilder("kill", "-" + signal, Long.toString(echo.pid())).start().waitFor();
            assertTrue(echo.waitFor(10, TimeUnit.SECONDS), "still running after SIG" + signal);
            assertEquals(0, echo.exitValue(), stderr(echo));
        } finally {
            echo.destroyForcibly();
        }
    }

    @Test
    void echoMainRefusesBadSettingsWithExitCodeOne() throws Exception {
        Process echo = java(EchoMain.class, List.of(), Map.of("SLUICE_PORTS", "http", "SLUICE_BIND", "127.0.0.1"));
        assertTrue(echo.waitFor(10, TimeUnit.SECONDS));
        assertEquals(1, echo.exitValue());
        assertEquals("echo: \"http\" is not a port (0-65535)", stderr(echo).strip());
    }

    @Test
    void echoServerCommandTakesOptionsOverTheEnvironment() throws Exception {
        Process echo = java(WorkloadCli.class, List.of("echo-server", "--pod", "cli-pod", "--labels", "version=v2",
                "--ports", "0,0", "--bind", "127.0.0.1"), Map.of("SLUICE_POD", "env-pod", "SLUICE_NAMESPACE", "lab"));
        try {
            Matcher listening = firstLine(echo);
            assertEquals("lab", listening.group(1));
            assertEquals("cli-pod", listening.group(2));
            Identity identity = EchoClient.grpcPing("127.0.0.1", Integer.parseInt(listening.group(4)), TIMEOUT)
                    .identity();
            assertEquals(new Identity("cli-pod", "lab", "", Map.of("version", "v2")), identity);

            echo.destroy(); // SIGTERM
            assertTrue(echo.waitFor(10, TimeUnit.SECONDS));
            assertEquals(0, echo.exitValue(), stderr(echo));
        } finally {
            echo.destroyForcibly();
        }
    }

    private static Process java(Class<?> main, List<String> args, Map<String, String> env) throws IOException {
        // A job started in the background by a shell without job control inherits SIGINT ignored, and the
        // JVM then leaves it ignored: reset both signals so the test means the same wherever it is started.
        List<String> command = new ArrayList<>(List.of("env", "--default-signal=INT,TERM",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                main.getName()));
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().keySet().removeIf(name -> name.startsWith("SLUICE_"));
        builder.environment().putAll(env);
        return builder.start();
    }

    private static Matcher firstLine(Process process) throws Exception {
        BufferedReader out = process.inputReader();
        String line = CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }).get(20, TimeUnit.SECONDS);
        assertTrue(line != null, () -> "no output; stderr: " + stderr(process));
        Matcher matcher = LISTENING.matcher(line);
        assertTrue(matcher.matches(), line);
        return matcher;
    }

    private static String stderr(Process process) {
        try {
            return new String(process.getErrorStream().readAllBytes());
        } catch (IOException e) {
            return "(stderr unreadable: " + e.getMessage() + ")";
        }
    }
}
