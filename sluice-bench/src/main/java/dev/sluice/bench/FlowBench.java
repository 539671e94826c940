package dev.sluice.bench;

import dev.sluice.bench.flow.FlowBenchMain;

/**
 * Flow-event benchmark (issue 6, "Flow observability"): how many events per second the agent's flow
 * pipeline ingests on one core, and what flow events cost a new connection on the L4 policy path (events
 * at the default aggregation against none, same run). Needs root.
 *
 * <pre>
 * $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED \
 *     -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.FlowBench [all|ingest|latency] [options]
 * </pre>
 *
 * See {@link FlowBenchMain} for the options and docs/benchmarks.md for what it measures and the figures.
 */
public final class FlowBench {
    private FlowBench() {
    }

    public static void main(String[] args) throws Exception {
        // Before any socket class initialises: the benchmark's own sockets (the server) are IPv4.
        System.setProperty("java.net.preferIPv4Stack", "true");
        System.exit(FlowBenchMain.run(args));
    }
}
