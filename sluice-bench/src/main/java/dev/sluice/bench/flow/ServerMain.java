package dev.sluice.bench.flow;

import dev.sluice.bench.lb.ByteServer;
import dev.sluice.linux.NetNs;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * The latency benchmark's server as its own JVM, started by {@link FlowLatencyBench} inside the server
 * pod's namespace: a {@link ByteServer} on 0.0.0.0:PORT (its socket made inside namespace NS), so that the
 * agent's work (the flow pipeline, its GC and JIT) never pauses the server, as on a real node. Prints
 * READY, serves until QUIT or the end of its standard input.
 *
 * <p>Arguments: NS PORT.
 */
public final class ServerMain {
    private ServerMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ServerMain NS PORT");
            System.exit(2);
        }
        try (ByteServer server = new ByteServer(NetNs.existing(args[0]), Integer.parseInt(args[1]))) {
            System.out.println("READY");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null && !line.equals("QUIT")) {
                // nothing else to do
            }
        }
    }
}
