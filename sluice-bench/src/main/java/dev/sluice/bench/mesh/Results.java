package dev.sluice.bench.mesh;

import java.util.List;
import java.util.Map;

/** What a benchmark run wrote to its JSON file (and what {@code sluice bench compare} reads back). Times in ms, CPU in cores. */
public final class Results {
    private Results() {
    }

    /** Client-observed latency of one run: from each request's intended send time (corrected) or its actual one. */
    public record Latency(double p50, double p75, double p90, double p99, double p999, double max) {
        static final Latency NONE = new Latency(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }

    /**
     * Cores used during the measured window (1.0 = one CPU all the time); {@code proxy} is the sidecars' cgroups or
     * the node proxy's process, {@code agent} the agent's cgroup without the node proxy, {@code machine} every CPU's
     * busy time (softirq included, also shown apart), {@code bpf} the run time of the labs' eBPF programs.
     */
    public record Cpu(double client, double servers, double proxy, double agent, double machine, double softirq, double bpf) {
    }

    /** Peaks in MiB: client pod, server pods together, proxy (sidecars together, or the node proxy); -1 where unknown. */
    public record Memory(double clientMiB, double serversMiB, double proxyMiB) {
    }

    /** One measured run of one scenario. {@code spectrum} holds [percentile, ms] points of the corrected distribution. */
    public record Run(String scenario, int rep, double requestedQps, double actualQps, long requests, long errors, long unsent, Map<String, Long> codes,
                      Latency corrected, Latency uncorrected, Cpu cpu, double windowSeconds, Memory memory, double gcMaxPauseMs,
                      int gcPauses, List<double[]> spectrum, String note) {
    }

    /** Medians over a scenario's repetitions, with the spread (max - min) of the figures the table shows. */
    public record Summary(String scenario, String title, int runs, double qps, long requests, long errors, long unsent, Latency corrected,
                          Latency uncorrected, Cpu cpu, Cpu cpuPer1k, Memory memory, double gcMaxPauseMs, Map<String, Double> spread,
                          boolean noisy) {
    }

    /** A goal of the issues, checked against the medians. */
    public record Goal(String name, String figure, boolean met, String detail) {
    }

    /** The machine the run was made on. */
    public record Machine(String kernel, String cpu, int cores, String loadBefore, String loadAfter) {
    }

    /** The whole file. */
    public record Bench(String started, Machine machine, Map<String, Object> settings, List<Run> runs, List<Summary> summaries,
                        List<Goal> goals, List<String> notes) {
    }
}
