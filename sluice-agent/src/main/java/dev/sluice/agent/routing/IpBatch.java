package dev.sluice.agent.routing;

import dev.sluice.linux.Command;
import dev.sluice.linux.LinuxException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs {@code ip -batch} and {@code bridge -batch} in one network namespace: one process for all of a change's
 * routes instead of one a route. There is no netlink client in sluice-linux yet; iproute2 speaks netlink for us, and
 * reports the first failing line of a batch (it stops there), which is what the subsystem's Degraded state shows.
 *
 * @param netns the namespace to run in ({@code ip -n}), or null for the caller's own (the agent runs in its node's)
 */
record IpBatch(String netns) {

    /** {@code ip -batch} of {@code lines}, stopping at the first that fails. */
    void ip(List<String> lines) {
        run("ip", lines);
    }

    /** {@code bridge -batch} of {@code lines} (fdb entries), stopping at the first that fails. */
    void bridge(List<String> lines) {
        run("bridge", lines);
    }

    /** One {@code ip} command's output (e.g. {@code -j route show proto 157}). */
    String ipQuery(String... args) {
        return Command.exec(command("ip", List.of(args))).orThrow().stdout();
    }

    /** One {@code bridge} command's output. */
    String bridgeQuery(String... args) {
        return Command.exec(command("bridge", List.of(args))).orThrow().stdout();
    }

    /** Whether {@code ip ARGS} succeeds (e.g. whether a device exists). */
    boolean ipSucceeds(String... args) {
        return Command.exec(command("ip", List.of(args))).ok();
    }

    private void run(String tool, List<String> lines) {
        if (lines.isEmpty()) {
            return;
        }
        Path file;
        try {
            file = Files.createTempFile("sluice-routing", ".batch");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write an " + tool + " batch file", e);
        }
        try {
            Files.write(file, lines);
            Command.Result r = Command.exec(command(tool, List.of("-batch", file.toString())));
            if (!r.ok()) {
                // iproute2 names the failing line ("Command failed /tmp/x:3"); say which command that was.
                String err = (r.stderr().isBlank() ? r.stdout() : r.stderr()).strip();
                java.util.regex.Matcher m = java.util.regex.Pattern.compile(":(\\d+)\\s*$").matcher(err);
                String line = m.find() ? lines.get(Math.min(lines.size(), Integer.parseInt(m.group(1))) - 1) : String.join("; ", lines);
                throw new LinuxException(tool + " " + line + ": " + err.lines().findFirst().orElse(err));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write an " + tool + " batch file", e);
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temp file left behind is harmless
            }
        }
    }

    private List<String> command(String tool, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(tool));
        if (netns != null) {
            cmd.addAll(List.of("-n", netns));
        }
        cmd.addAll(args);
        return cmd;
    }
}
