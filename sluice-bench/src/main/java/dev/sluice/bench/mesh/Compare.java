package dev.sluice.bench.mesh;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** {@code sluice bench compare A.json B.json}: per scenario in both, each table figure in A and B and its change. */
public final class Compare {
    private Compare() {
    }

    public static void print(Path a, Path b, PrintWriter out) throws IOException {
        Results.Bench x = read(a);
        Results.Bench y = read(b);
        out.printf("%s (A) -> %s (B); medians, CPU in vCPU per 1,000 requests/s%n", a, b);
        out.printf("%-17s %-10s %10s %10s %9s%n", "scenario", "figure", "A", "B", "change");
        for (Results.Summary s : x.summaries()) {
            Optional<Results.Summary> t = y.summaries().stream().filter(o -> o.scenario().equals(s.scenario())).findFirst();
            if (t.isEmpty()) {
                out.printf("%-17s only in A%n", s.title());
                continue;
            }
            row(out, s.title(), "p50 ms", s.corrected().p50(), t.get().corrected().p50());
            row(out, "", "p90 ms", s.corrected().p90(), t.get().corrected().p90());
            row(out, "", "p99 ms", s.corrected().p99(), t.get().corrected().p99());
            row(out, "", "client", s.cpuPer1k().client(), t.get().cpuPer1k().client());
            row(out, "", "server", s.cpuPer1k().servers(), t.get().cpuPer1k().servers());
            row(out, "", "proxy", s.cpuPer1k().proxy(), t.get().cpuPer1k().proxy());
            row(out, "", "errors", s.errors(), t.get().errors());
        }
        y.summaries().stream().filter(s -> x.summaries().stream().noneMatch(o -> o.scenario().equals(s.scenario())))
                .forEach(s -> out.printf("%-17s only in B%n", s.title()));
        out.flush();
    }

    private static Results.Bench read(Path p) throws IOException {
        try {
            return Report.read(p);
        } catch (IOException e) {
            throw new IOException(p + ": not a sluice bench results file: " + e.getMessage(), e);
        }
    }

    private static void row(PrintWriter out, String title, String figure, double a, double b) {
        String change = a == 0 ? (b == 0 ? "0 %" : "new") : String.format(Locale.ROOT, "%+.1f %%", (b - a) / a * 100);
        out.printf(Locale.ROOT, "%-17s %-10s %10.3f %10.3f %9s%n", title, figure, a, b, change);
    }
}
