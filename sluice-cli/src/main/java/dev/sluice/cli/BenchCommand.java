package dev.sluice.cli;

import dev.sluice.bench.mesh.BenchSettings;
import dev.sluice.bench.mesh.Compare;
import dev.sluice.bench.mesh.MeshBench;
import dev.sluice.bench.mesh.Report;
import dev.sluice.bench.mesh.Results;
import dev.sluice.bench.mesh.Scenario;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "bench", description = {
        "The seed's sidecar-vs-eBPF table, measured in labs on this machine: gRPC at a constant rate from a client pod to the",
        "seed's product-service through no mesh, kube-proxy (iptables), HAProxy sidecars, Sluice L4, Sluice L7 (the 90/10 canary)",
        "and Sluice L4 + socket bypass; interleaved repetitions, medians, CPU per 1,000 requests/s, the issues' goals.",
        "Writes results.json and report.html to --out. Needs root."},
        subcommands = BenchCommand.CompareCommand.class)
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--scenario", split = ",", paramLabel = "NAME",
            description = "Scenarios to run (default: all): no-mesh, kube-proxy, sidecar, sluice-l4, sluice-l7, sluice-bypass.")
    List<String> scenarios;
    @Option(names = "--qps", defaultValue = "1000", description = "Requests per second (default: ${DEFAULT-VALUE}).")
    int qps;
    @Option(names = "--duration", defaultValue = "60s", converter = BenchCommand.Seconds.class, description = "Per measured run (default: ${DEFAULT-VALUE}).")
    Duration duration;
    @Option(names = "--warmup", defaultValue = "5s", converter = BenchCommand.Seconds.class, description = "Load before each run, not measured (default: ${DEFAULT-VALUE}).")
    Duration warmup;
    @Option(names = "--connections", defaultValue = "50", description = "Client connections (default: ${DEFAULT-VALUE}).")
    int connections;
    @Option(names = "--payload-size", defaultValue = "0", description = "Bytes per request (gRPC ping with a payload; default: the seed's health checks).")
    int payloadSize;
    @Option(names = "--reps", defaultValue = "3", description = "Repetitions of every scenario, interleaved (default: ${DEFAULT-VALUE}).")
    int reps;
    @Option(names = "--quick", description = "A smoke run: seconds per scenario at a low rate, one repetition (what the test suite runs).")
    boolean quick;
    @Option(names = "--out", paramLabel = "DIR", description = "Where results.json, report.html and each run's data go (default: ./sluice-bench-TIME).")
    Path out;
    @Option(names = "--examples", paramLabel = "DIR", description = "Where the example manifests are (default: examples/ of the checkout).")
    Path examples;
    @Option(names = "--lab-names", split = ",", hidden = true, description = "Names for the plain, sluice and bypass labs (tests).")
    List<String> labNames = List.of();
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter pw = spec.commandLine().getOut();
        Path dir = examples != null ? examples : Path.of(System.getenv().getOrDefault("SLUICE_ROOT", ".")).resolve("examples");
        Path to = out != null ? out : Path.of("sluice-bench-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        List<Scenario> chosen = scenarios == null || scenarios.isEmpty() ? Scenario.all() : scenarios.stream().map(Scenario::of).distinct().toList();
        BenchSettings s = new BenchSettings(chosen, qps, duration, warmup, BenchSettings.defaults(dir, to).settle(), connections, payloadSize,
                reps, false, dir, to.toAbsolutePath(), labNames);
        if (quick) {
            s = s.quickly();
        }
        double load = Double.parseDouble(java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        if (!s.quick() && load >= 1.5) {
            pw.printf("warning: load average %.2f: the machine is busy, figures will be noisy (run on an idle machine to quote them)%n", load);
        }
        Results.Bench b = new MeshBench(s, pw).run();
        Report.print(b, pw, System.console() != null && System.getenv("NO_COLOR") == null);
        pw.println("results: " + s.out().resolve("results.json") + ", report: " + s.out().resolve("report.html"));
        return b.runs().stream().anyMatch(r -> r.errors() > 0 || r.requests() == 0) ? 1 : 0;
    }

    /** 60s, 500ms, 2m (as fortio's -t), or bare seconds. */
    static final class Seconds implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String v) {
            var m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m)?").matcher(v.strip());
            if (!m.matches()) {
                throw new CommandLine.TypeConversionException("'" + v + "' is not a duration (e.g. 60s, 500ms, 2m)");
            }
            long n = Long.parseLong(m.group(1));
            return m.group(2) == null || m.group(2).equals("s") ? Duration.ofSeconds(n) : m.group(2).equals("ms") ? Duration.ofMillis(n)
                    : Duration.ofMinutes(n);
        }
    }

    @Command(name = "compare", description = "The change of every scenario's figures between two results.json files (A, then B).")
    static final class CompareCommand implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "A.json")
        Path a;
        @Parameters(index = "1", paramLabel = "B.json")
        Path b;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Compare.print(a, b, spec.commandLine().getOut());
            return 0;
        }
    }
}
