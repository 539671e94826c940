package dev.sluice.bench;

import dev.sluice.bench.lb.LbBenchMain;

/**
 * Service load-balancing benchmark: programming time of {@code LbMapWriter.sync} and new-connection
 * latency through a ClusterIP, Sluice's socket LB against kube-proxy's iptables rules. Needs root.
 *
 * <pre>
 * $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED -Djava.net.preferIPv4Stack=true \
 *     -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.LbBench [all|program|latency] [options]
 * </pre>
 *
 * See {@link LbBenchMain} for the options and docs/benchmarks.md for what it measures and the figures.
 */
public final class LbBench {
    private LbBench() {
    }

    public static void main(String[] args) throws Exception {
        // Before any socket class initialises: the benchmark's own sockets (the servers) are IPv4.
        System.setProperty("java.net.preferIPv4Stack", "true");
        System.exit(LbBenchMain.run(args));
    }
}
