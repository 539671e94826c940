package dev.sluice.bench.lb;

import dev.sluice.datapath.lb.Backend;
import dev.sluice.datapath.lb.Frontend;

import java.util.ArrayList;
import java.util.List;

import static dev.sluice.datapath.abi.Protocol.TCP;

/**
 * The Services both benchmarks program: N ClusterIP Services {@code bench/svc-I} (port name {@code http}),
 * each one TCP port 80 on {@code 10.96.x.y} with 4 backends on port 8080.
 *
 * <p>Every Service but the last has backends of its own (distinct pod addresses from {@code 10.244.1.0}
 * upwards, which exist nowhere: nothing ever connects to them). The last Service, the one the latency
 * benchmark calls, has the 4 addresses of the benchmark's server ({@link #SERVER_ADDRESSES}). Frontend ids
 * (rev_nat_index) are 1..N; the server's backends have ids 1..4 and the others 5 and up, so that one
 * backend keeps its id whatever N is.
 */
public final class Workload {
    public static final int SERVICE_PORT = 80;
    public static final int BACKEND_PORT = 8080;
    public static final int BACKENDS_PER_SERVICE = 4;
    /** The pod CIDR (kube-proxy's --cluster-cidr): the client and every backend are "pods" in it. */
    public static final String CLUSTER_CIDR = "10.244.0.0/16";
    public static final String CLIENT_ADDRESS = "10.244.0.2";
    public static final List<String> SERVER_ADDRESSES = List.of("10.244.0.10", "10.244.0.11", "10.244.0.12", "10.244.0.13");
    public static final String NAMESPACE = "bench";
    public static final String PORT_NAME = "http";

    private Workload() {
    }

    /** The ClusterIP of Service {@code i} (0-based): 10.96.0.1, 10.96.0.2, ... */
    public static String vip(int i) {
        int n = i + 1;
        return "10.96." + (n >> 8) + "." + (n & 0xff);
    }

    /** kube-proxy's ServicePortName string: "namespace/name:port". */
    public static String servicePortName(int i) {
        return NAMESPACE + "/svc-" + i + ":" + PORT_NAME;
    }

    /** The N frontends, in order; the last one is served by the benchmark's server. */
    public static List<Frontend> frontends(int n) {
        List<Frontend> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            List<Backend> backends = new ArrayList<>(BACKENDS_PER_SERVICE);
            for (int j = 0; j < BACKENDS_PER_SERVICE; j++) {
                if (i == n - 1) {
                    backends.add(new Backend(SERVER_ADDRESSES.get(j), BACKEND_PORT, TCP.value(), 1 + j, "bench/server"));
                } else {
                    int k = BACKENDS_PER_SERVICE * i + j; // a distinct pod per backend
                    int host = 256 + k;                   // 10.244.1.0 upwards, clear of the server's 10.244.0.0/24
                    backends.add(new Backend("10.244." + (host >> 8) + "." + (host & 0xff), BACKEND_PORT, TCP.value(),
                            5 + k, "bench/pod-" + k));
                }
            }
            out.add(new Frontend("bench/svc-" + i, PORT_NAME, vip(i), SERVICE_PORT, TCP.value(), i + 1, false, 0,
                    List.copyOf(backends)));
        }
        return out;
    }
}
