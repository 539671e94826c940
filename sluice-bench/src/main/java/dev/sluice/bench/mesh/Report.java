package dev.sluice.bench.mesh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

/**
 * Medians, spread and the issues' goals from a run's measurements; the seed's table on the terminal, results.json,
 * and report.html (the table, the goals, and latency distributions as inline SVG).
 */
public final class Report {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Spread above this share of the median makes a figure noisy, and the report says so. */
    static final double NOISY = 0.25;
    private static final String RED = "\u001b[31m";
    private static final String GREEN = "\u001b[32m";
    private static final String RESET = "\u001b[0m";

    private Report() {
    }

    static Results.Bench build(BenchSettings s, Results.Machine machine, List<Results.Run> runs) {
        List<Results.Summary> summaries = new ArrayList<>();
        for (Scenario sc : s.scenarios()) {
            List<Results.Run> mine = runs.stream().filter(r -> r.scenario().equals(sc.id())).toList();
            if (!mine.isEmpty()) {
                summaries.add(summary(sc, mine, s.qps()));
            }
        }
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("scenarios", s.scenarios().stream().map(Scenario::id).toList());
        settings.put("qps", s.qps());
        settings.put("durationSeconds", s.duration().toMillis() / 1000.0);
        settings.put("warmupSeconds", s.warmup().toMillis() / 1000.0);
        settings.put("cpuWindowStartsAfterSeconds", s.settle().toMillis() / 1000.0);
        settings.put("connections", s.connections());
        settings.put("payloadSize", s.payloadSize());
        settings.put("reps", s.reps());
        settings.put("quick", s.quick());
        List<String> notes = new ArrayList<>();
        if (s.quick()) {
            notes.add("--quick: a smoke run (short, low rate, one repetition); its figures are not to be quoted.");
        }
        if (s.reps() < 3) {
            notes.add("fewer than 3 repetitions: no spread to judge noise by.");
        }
        summaries.stream().filter(Results.Summary::noisy).forEach(x -> notes.add(x.title() + ": high noise (spread over "
                + Math.round(NOISY * 100) + " % of the median in " + noisyKeys(x) + ")"));
        summaries.stream().filter(x -> x.unsent() > 0.01 * (x.requests() + x.unsent())).forEach(x -> notes.add(x.title() + ": "
                + x.unsent() + " requests unsent (the path did not keep up with " + s.qps() + " requests/s; its latency includes the wait)"));
        runs.stream().filter(r -> !r.note().isEmpty()).map(Results.Run::note).distinct().forEach(notes::add);
        return new Results.Bench(Instant.now().toString(), machine, settings, runs, summaries, goals(summaries), notes);
    }

    private static String noisyKeys(Results.Summary x) {
        return x.spread().entrySet().stream().filter(e -> e.getValue() > NOISY).map(Map.Entry::getKey).toList().toString();
    }

    private static Results.Summary summary(Scenario sc, List<Results.Run> runs, int qps) {
        Results.Latency c = latency(runs, Results.Run::corrected);
        Results.Latency u = latency(runs, Results.Run::uncorrected);
        Results.Cpu cpu = new Results.Cpu(median(runs, r -> r.cpu().client()), median(runs, r -> r.cpu().servers()),
                median(runs, r -> r.cpu().proxy()), median(runs, r -> r.cpu().agent()), median(runs, r -> r.cpu().machine()),
                median(runs, r -> r.cpu().softirq()), median(runs, r -> r.cpu().bpf()));
        double k = median(runs, Results.Run::actualQps) / 1000.0;
        Results.Cpu per1k = new Results.Cpu(cpu.client() / k, cpu.servers() / k, cpu.proxy() / k, cpu.agent() / k, cpu.machine() / k,
                cpu.softirq() / k, cpu.bpf() / k);
        Results.Memory mem = new Results.Memory(max(runs, r -> r.memory().clientMiB()), max(runs, r -> r.memory().serversMiB()),
                max(runs, r -> r.memory().proxyMiB()));
        Map<String, Double> spread = new LinkedHashMap<>();
        spread.put("p50", spread(runs, r -> r.corrected().p50()));
        spread.put("p90", spread(runs, r -> r.corrected().p90()));
        spread.put("p99", spread(runs, r -> r.corrected().p99()));
        spread.put("client CPU", spread(runs, r -> r.cpu().client()));
        spread.put("server CPU", spread(runs, r -> r.cpu().servers()));
        spread.put("proxy CPU", spread(runs, r -> r.cpu().proxy()));
        boolean noisy = runs.size() > 1 && spread.values().stream().anyMatch(v -> v > NOISY);
        double gc = runs.stream().mapToDouble(Results.Run::gcMaxPauseMs).filter(v -> !Double.isNaN(v)).max().orElse(Double.NaN);
        return new Results.Summary(sc.id(), sc.title(), runs.size(), median(runs, Results.Run::actualQps),
                runs.stream().mapToLong(Results.Run::requests).sum(), runs.stream().mapToLong(Results.Run::errors).sum(),
                runs.stream().mapToLong(Results.Run::unsent).sum(), c, u, cpu, per1k, mem,
                gc, spread, noisy);
    }

    private static Results.Latency latency(List<Results.Run> runs, java.util.function.Function<Results.Run, Results.Latency> f) {
        return new Results.Latency(median(runs, r -> f.apply(r).p50()), median(runs, r -> f.apply(r).p75()), median(runs, r -> f.apply(r).p90()),
                median(runs, r -> f.apply(r).p99()), median(runs, r -> f.apply(r).p999()), max(runs, r -> f.apply(r).max()));
    }

    static double median(List<Results.Run> runs, ToDoubleFunction<Results.Run> f) {
        double[] v = runs.stream().mapToDouble(f).filter(x -> !Double.isNaN(x)).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static double max(List<Results.Run> runs, ToDoubleFunction<Results.Run> f) {
        return runs.stream().mapToDouble(f).filter(x -> !Double.isNaN(x)).max().orElse(Double.NaN);
    }

    /** (max - min) / median; 0 for one run. */
    private static double spread(List<Results.Run> runs, ToDoubleFunction<Results.Run> f) {
        double[] v = runs.stream().mapToDouble(f).filter(x -> !Double.isNaN(x)).sorted().toArray();
        double m = median(runs, f);
        return v.length < 2 || m == 0 ? 0 : (v[v.length - 1] - v[0]) / m;
    }

    /** Issue 16's goals, and issue 11's for the node proxy, on the medians; a goal whose scenarios did not run is left out. */
    static List<Results.Goal> goals(List<Results.Summary> summaries) {
        Map<String, Results.Summary> by = new LinkedHashMap<>();
        summaries.forEach(x -> by.put(x.scenario(), x));
        Optional<Results.Summary> none = Optional.ofNullable(by.get(Scenario.NO_MESH.id()));
        Optional<Results.Summary> side = Optional.ofNullable(by.get(Scenario.SIDECAR.id()));
        Optional<Results.Summary> l4 = Optional.ofNullable(by.get(Scenario.SLUICE_L4.id()));
        Optional<Results.Summary> l7 = Optional.ofNullable(by.get(Scenario.SLUICE_L7.id()));
        Optional<Results.Summary> bypass = Optional.ofNullable(by.get(Scenario.SLUICE_BYPASS.id()));
        List<Results.Goal> goals = new ArrayList<>();
        if (none.isPresent() && l4.isPresent()) {
            double r50 = l4.get().corrected().p50() / none.get().corrected().p50();
            double r99 = l4.get().corrected().p99() / none.get().corrected().p99();
            goals.add(new Results.Goal("Sluice L4 p50 and p99 within 10 % of no mesh", fmt("p50 %.2fx, p99 %.2fx", r50, r99),
                    r50 <= 1.10 && r99 <= 1.10, "Sluice L4 / no mesh"));
        }
        if (side.isPresent() && l4.isPresent()) {
            double r = side.get().corrected().p99() / l4.get().corrected().p99();
            goals.add(new Results.Goal("sidecar p99 at least 3x Sluice L4 p99", fmt("%.2fx", r), r >= 3, "sidecar / Sluice L4 (the seed claims 3.7x)"));
        }
        if (side.isPresent() && l7.isPresent()) {
            double r = l7.get().corrected().p99() / side.get().corrected().p99();
            goals.add(new Results.Goal("Sluice L7 p99 at most 0.5x the sidecars'", fmt("%.2fx", r), r <= 0.5, "Sluice L7 / sidecar"));
            double c = l7.get().cpu().proxy() / side.get().cpu().proxy();
            goals.add(new Results.Goal("Sluice L7 proxy CPU at most 0.25x the sidecars'", fmt("%.2fx", c), c <= 0.25,
                    fmt("node proxy %.3f vs sidecars %.3f cores", l7.get().cpu().proxy(), side.get().cpu().proxy())));
        }
        if (l7.isPresent()) {
            double c = l7.get().cpuPer1k().proxy();
            goals.add(new Results.Goal("node proxy at most 0.15 vCPU per 1,000 requests/s", fmt("%.3f vCPU", c), c <= 0.15, "issue 11"));
            double rss = l7.get().memory().proxyMiB();
            goals.add(new Results.Goal("node proxy RSS at most 200 MiB", fmt("%.0f MiB", rss), rss >= 0 && rss <= 200, "peak RSS (VmHWM), issue 11"));
            double gc = l7.get().gcMaxPauseMs();
            goals.add(new Results.Goal("no node-proxy GC pause over 5 ms", Double.isNaN(gc) ? "unknown" : fmt("longest %.2f ms", gc),
                    !Double.isNaN(gc) && gc <= 5, Double.isNaN(gc) ? "jcmd could not turn on the proxy's GC log" : "issue 11"));
        }
        if (l4.isPresent() && bypass.isPresent()) {
            double r = bypass.get().corrected().p50() / l4.get().corrected().p50();
            goals.add(new Results.Goal("Sluice L4+bypass p50 at least 15 % below Sluice L4", fmt("%.2fx", r), r <= 0.85, "bypass / Sluice L4"));
        }
        return goals;
    }

    static String fmt(String f, Object... args) {
        return String.format(Locale.ROOT, f, args);
    }

    /** The seed's table, then the goals (a missed one in red on a terminal), then the notes. */
    public static void print(Results.Bench b, PrintWriter out, boolean color) {
        out.println();
        out.printf("gRPC at %s requests/s, %s connections, %s s per run, %s repetition(s); medians; CPU in vCPU per 1,000 requests/s%n",
                b.settings().get("qps"), b.settings().get("connections"), b.settings().get("durationSeconds"), b.settings().get("reps"));
        out.printf("%-17s %8s %8s %8s %9s %9s %9s %12s %11s %8s%n", "scenario", "p50 ms", "p90 ms", "p99 ms", "client", "server", "proxy",
                "p99 vs", "requests", "errors");
        out.printf("%-17s %8s %8s %8s %9s %9s %9s %12s %11s %8s%n", "", "", "", "", "CPU", "CPU", "CPU", "sidecar", "", "");
        Optional<Results.Summary> side = b.summaries().stream().filter(x -> x.scenario().equals(Scenario.SIDECAR.id())).findFirst();
        for (Results.Summary x : b.summaries()) {
            String vs = side.map(sd -> x == sd ? "-" : vsSidecar(sd.corrected().p99() / x.corrected().p99())).orElse("");
            out.printf(Locale.ROOT, "%-17s %8.2f %8.2f %8.2f %9.3f %9.3f %9.3f %12s %11d %8d%s%n", x.title(), x.corrected().p50(),
                    x.corrected().p90(), x.corrected().p99(), x.cpuPer1k().client(), x.cpuPer1k().servers(), x.cpuPer1k().proxy(), vs,
                    x.requests(), x.errors(), x.noisy() ? "  (noisy)" : "");
        }
        out.println();
        out.printf("%-17s %8s %8s %8s %9s %9s %9s %9s %9s %8s%n", "uncorrected", "p50 ms", "p90 ms", "p99 ms", "agent", "machine", "softirq",
                "eBPF", "proxy MiB", "unsent");
        for (Results.Summary x : b.summaries()) {
            out.printf(Locale.ROOT, "%-17s %8.2f %8.2f %8.2f %9.3f %9.3f %9.3f %9.4f %9.0f %8d%n", x.title(), x.uncorrected().p50(),
                    x.uncorrected().p90(), x.uncorrected().p99(), x.cpuPer1k().agent(), x.cpuPer1k().machine(), x.cpuPer1k().softirq(),
                    x.cpuPer1k().bpf(), x.memory().proxyMiB(), x.unsent());
        }
        out.println();
        for (Results.Goal g : b.goals()) {
            String mark = g.met() ? "met   " : "MISSED";
            String line = fmt("%s %-52s %s (%s)", mark, g.name(), g.figure(), g.detail());
            out.println(color ? (g.met() ? GREEN : RED) + line + RESET : line);
        }
        b.notes().forEach(n -> out.println("note: " + n));
        out.flush();
    }

    /** The sidecar's p99 over this one's: "3.2x lower" for a faster path, "1.5x higher" for a slower one. */
    static String vsSidecar(double ratio) {
        return Double.isNaN(ratio) ? "-" : ratio >= 1 ? fmt("%.1fx lower", ratio) : fmt("%.1fx higher", 1 / ratio);
    }

    static void write(Results.Bench b, Path dir) throws IOException {
        JSON.writeValue(dir.resolve("results.json").toFile(), b);
        Files.writeString(dir.resolve("report.html"), Html.render(b));
    }

    static Results.Bench read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), Results.Bench.class);
    }

}
