package dev.sluice.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs system commands (ip, nsenter, bpftool) and reports their output, or their error with stderr. */
public final class Command {
    /** The outcome of a finished command. */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }

        public Result orThrow() {
            if (exitCode != 0) {
                throw new LinuxException("'" + String.join(" ", command) + "' failed (exit " + exitCode + "): "
                        + (stderr.isBlank() ? stdout.strip() : stderr.strip()));
            }
            return this;
        }
    }

    private Command() {
    }

    /** Runs the command, failing with its stderr unless it exits 0. */
    public static String run(String... command) {
        return exec(List.of(command)).orThrow().stdout();
    }

    /** Runs the command and returns its result whatever the exit code. A command that is not installed fails. */
    public static Result exec(List<String> command) {
        ProcessBuilder builder = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(
                new java.io.File("/dev/null")));
        try {
            Process process = builder.start();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(process.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(process.getErrorStream()));
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new LinuxException("'" + String.join(" ", command) + "' did not finish within 60 s");
            }
            return new Result(List.copyOf(command), process.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new LinuxException("cannot run '" + command.getFirst() + "': " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LinuxException("interrupted while running '" + String.join(" ", command) + "'");
        }
    }

    private static String read(java.io.InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
