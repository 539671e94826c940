package dev.sluice.bench.mesh;

import dev.sluice.linux.Command;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The node proxy's GC pauses during a run (issue 11's goal: none over 5 ms), from unified logging turned on in the
 * running proxy with {@code jcmd PID VM.log}: no restart, no change to how the agent starts it. The log is read
 * from the offset it had when the window opened.
 */
final class GcLog {
    private static final Pattern PAUSE = Pattern.compile("Pause.* (\\d+(?:\\.\\d+)?)ms\\s*$");
    private final Path file;
    private final long from;

    private GcLog(Path file, long from) {
        this.file = file;
        this.from = from;
    }

    /** Starts (or keeps) the GC log of JVM {@code pid} into {@code file}; empty if jcmd could not attach. */
    static java.util.Optional<GcLog> follow(long pid, Path file) {
        if (!Files.exists(file)) {
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            Command.Result r = Command.exec(List.of(jcmd.toString(), Long.toString(pid), "VM.log", "output=" + file, "what=gc=info",
                    "decorators=uptime"));
            if (!r.ok() || !Files.exists(file)) {
                return java.util.Optional.empty();
            }
        }
        try {
            return java.util.Optional.of(new GcLog(file, Files.size(file)));
        } catch (IOException e) {
            return java.util.Optional.empty();
        }
    }

    /** The pauses logged since {@link #follow}: {count, longest in ms}. */
    double[] pauses() {
        try {
            byte[] all = Files.readAllBytes(file);
            String text = new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from), java.nio.charset.StandardCharsets.UTF_8);
            int n = 0;
            double max = 0;
            for (String line : text.lines().toList()) {
                Matcher m = PAUSE.matcher(line);
                if (m.find()) {
                    n++;
                    max = Math.max(max, Double.parseDouble(m.group(1)));
                }
            }
            return new double[] {n, max};
        } catch (IOException e) {
            return new double[] {-1, Double.NaN};
        }
    }
}
