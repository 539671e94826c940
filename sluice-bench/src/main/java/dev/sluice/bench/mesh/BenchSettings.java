package dev.sluice.bench.mesh;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One benchmark run's parameters. The defaults are the seed's workload (gRPC unary, 1,000 requests/s, 50
 * connections, small messages, 60 s per run); {@link #quick} is a smoke run that shows every scenario works, never
 * a figure to quote.
 *
 * @param warmup  load at the same rate before each measured run (the load generator's -warmup: its JIT, the servers' and
 *                proxies', connection pools), not measured
 * @param labNames the labs' names, plain, sluice and bypass (empty: bench-KIND-PID); tests pass names they registered
 * @param settle  the time allowed for the load generator's JVM to start: CPU is counted from settle + warm-up after
 *                its launch to warm-up + duration, so the JVM's start and the warm-up stay out of the CPU figures
 */
public record BenchSettings(List<Scenario> scenarios, int qps, Duration duration, Duration warmup, Duration settle, int connections,
                            int payloadSize, int reps, boolean quick, Path examples, Path out, List<String> labNames) {
    public BenchSettings {
        scenarios = List.copyOf(scenarios);
        labNames = List.copyOf(labNames);
        if (!labNames.isEmpty() && labNames.size() != Scenario.LabKind.values().length) {
            throw new IllegalArgumentException("--lab-names takes " + Scenario.LabKind.values().length + " names (plain, sluice, bypass), got "
                    + labNames);
        }
        if (scenarios.isEmpty()) {
            throw new IllegalArgumentException("no scenario to run");
        }
        if (qps < 1 || connections < 1 || reps < 1 || payloadSize < 0) {
            throw new IllegalArgumentException("--qps, --connections and --reps must be at least 1 and --payload-size not negative");
        }
        if (duration.compareTo(settle) <= 0) {
            throw new IllegalArgumentException("--duration " + duration.toSeconds() + " s leaves no time to measure CPU after the "
                    + settle.toMillis() + " ms the client takes to start");
        }
    }

    public static BenchSettings defaults(Path examples, Path out) {
        return new BenchSettings(Scenario.all(), 1000, Duration.ofSeconds(60), Duration.ofSeconds(5), Duration.ofSeconds(5), 50, 0, 3,
                false, examples, out, List.of());
    }

    /** Seconds each, one repetition, a lower rate: every scenario runs and answers, in well under two minutes. */
    public BenchSettings quickly() {
        return new BenchSettings(scenarios, Math.min(qps, 200), Duration.ofSeconds(3), Duration.ofSeconds(1), Duration.ofMillis(1500),
                Math.min(connections, 10), payloadSize, 1, true, examples, out, labNames);
    }
}
