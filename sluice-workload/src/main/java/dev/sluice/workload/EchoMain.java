package dev.sluice.workload;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.stream.Collectors;

/**
 * The container entry point of the echo workload, configured by the environment (see
 * {@link EchoSettings#fromEnvironment}). Serves until SIGTERM or SIGINT, then closes and exits 0.
 */
public final class EchoMain {
    private EchoMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        try {
            serve(EchoSettings.fromEnvironment(System.getenv()), new PrintWriter(System.out, true));
        } catch (IllegalArgumentException | IOException e) {
            System.err.println("echo: " + e.getMessage());
            System.exit(1);
        }
        // Explicit, because Netty's global executor thread outlives a closed server by a second, and a pod
        // being stopped should be gone at once.
        System.exit(0);
    }

    /**
     * Serves {@code settings}, prints {@code echo: <namespace>/<pod> listening on <ports>} once listening, and
     * returns once SIGTERM or SIGINT has closed the server.
     */
    public static void serve(EchoSettings settings, PrintWriter out) throws IOException, InterruptedException {
        // Installed first: a signal that arrives while the ports are being bound must not be lost.
        ShutdownSignals signals = ShutdownSignals.install();
        try (EchoServer server = EchoServer.start(settings.identity(), settings.bindAddress(), settings.ports());
             UdpEchoServer udp = UdpEchoServer.start(settings.identity(), settings.bindAddress(), settings.udpPorts())) {
            Identity identity = settings.identity();
            out.println("echo: " + identity.namespace() + "/" + identity.pod() + " listening on "
                    + server.boundPorts().stream().map(String::valueOf).collect(Collectors.joining(","))
                    + (udp.boundPorts().isEmpty() ? "" : " and UDP " + udp.boundPorts().stream().map(String::valueOf).collect(Collectors.joining(","))));
            out.flush();
            signals.await();
        }
    }
}
