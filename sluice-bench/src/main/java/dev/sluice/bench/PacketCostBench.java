package dev.sluice.bench;

import dev.sluice.bench.packet.PacketCostMain;

/**
 * Per-packet cost of the pod-veth programs (pod_veth's from_pod/to_pod, pod_policy's policy_from_pod/
 * policy_to_pod), measured with BPF_PROG_TEST_RUN on crafted frames: a SYN to a Service, packets of an
 * established flow, packets no Service or flow claims. Needs root (CAP_BPF); sends nothing anywhere.
 *
 * <pre>
 * $JAVA_HOME/bin/java --enable-native-access=ALL-UNNAMED \
 *     -cp sluice-bench/target/benchmarks.jar dev.sluice.bench.PacketCostBench \
 *     [--variant NAME=DIR|bundled]... [--rounds 5] [--calls 200000] [--loop 1000000]
 * </pre>
 *
 * See {@link PacketCostMain} for the method and docs/benchmarks.md for the figures.
 */
public final class PacketCostBench {
    private PacketCostBench() {
    }

    public static void main(String[] args) throws Exception {
        System.exit(PacketCostMain.run(args));
    }
}
