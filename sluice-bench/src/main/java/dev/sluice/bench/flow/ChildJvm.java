package dev.sluice.bench.flow;

import dev.sluice.bench.lb.Cleanup;
import dev.sluice.linux.NetNs;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A JVM of this benchmark's classpath started inside a namespace ({@code nsenter --net=/run/netns/NAME java ...}),
 * talked to by lines: commands on its standard input, answers on its standard output (its standard error
 * goes to ours). It is stopped through its own process handle (its pid) at {@link #close} or by the
 * {@link Cleanup}, whichever comes first.
 */
final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final PrintWriter commands;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final String name;

    ChildJvm(Cleanup cleanup, NetNs ns, Class<?> main, List<String> args) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow(() -> new IllegalStateException("cannot find this JVM's java command"));
        String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .map(p -> Path.of(p).toAbsolutePath().toString()).collect(Collectors.joining(File.pathSeparator));
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + ns.path(), java, "--enable-native-access=ALL-UNNAMED",
                "-Djava.net.preferIPv4Stack=true", "-XX:+UseSerialGC", "-Xms64m", "-Xmx64m", "-cp", classpath, main.getName()));
        cmd.addAll(args);
        process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        name = main.getSimpleName() + " (pid " + process.pid() + ")";
        cleanup.add(name, this::stop);
        commands = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
        Thread.ofPlatform().daemon().name("flowbench-" + main.getSimpleName()).start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
            lines.add("EOF");
        });
    }

    String name() {
        return name;
    }

    long pid() {
        return process.pid();
    }

    void send(String command) {
        commands.println(command);
    }

    /** The next line it printed; fails after {@code timeoutSeconds} of silence. */
    String next(int timeoutSeconds) throws InterruptedException {
        String line = lines.poll(timeoutSeconds, TimeUnit.SECONDS);
        if (line == null) {
            throw new IllegalStateException(name + " said nothing for " + timeoutSeconds + " s");
        }
        return line;
    }

    void expect(String line, int timeoutSeconds) throws InterruptedException {
        String got = next(timeoutSeconds);
        if (!got.equals(line)) {
            throw new IllegalStateException(name + ": expected " + line + ", got " + got);
        }
    }

    private void stop() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Asks it to QUIT, then stops it if it has not ended within 10 s. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            send("QUIT");
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                stop();
            }
        }
    }
}
