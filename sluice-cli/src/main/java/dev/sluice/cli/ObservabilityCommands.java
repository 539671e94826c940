package dev.sluice.cli;

import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.cli.lab.LabOptions;
import dev.sluice.lab.Lab;
import dev.sluice.lab.LabState;
import dev.sluice.linux.NetNs;
import dev.sluice.observe.cli.ObserveCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;

/** Flows and metrics of a lab's agents. */
final class ObservabilityCommands {
    private ObservabilityCommands() {
    }

    /** {@code sluice observe}: without --server, the lab's relay, or else every node of the lab at once (a relay view). */
    @Command(name = "observe",
            description = "Show flows of the lab's nodes (all of them at once, each line naming its node), as hubble observe does.")
    static final class Observe extends ObserveCommand {
        @Mixin
        LabOptions lab;

        private boolean viaRelay;

        @Override
        protected boolean relayView() {
            return viaRelay;
        }

        @Override
        protected List<String> defaultServers() {
            Lab l = lab.lab();
            // The lab's Hubble Relay when it runs (hubble.relay.enabled), as hubble observe reads hubble-relay.
            var relay = l.relay().filter(r -> r.running() && r.port().isPresent() && java.nio.file.Files.exists(r.socket()));
            if (relay.isPresent()) {
                viaRelay = true;
                return List.of("unix://" + relay.get().socket());
            }
            LabState state = l.state();
            List<String> servers = new java.util.ArrayList<>();
            for (LabState.NodeState n : state.nodes()) {
                java.nio.file.Path socket = l.layout(n.name()).observerSocket();
                if (java.nio.file.Files.exists(socket)) {
                    servers.add("unix://" + socket);
                } else {
                    spec().commandLine().getErr().println("observe: node " + n.name() + " serves no flows (" + socket
                            + " is missing: is its agent running, with hubble.enabled?)");
                }
            }
            if (servers.isEmpty()) {
                throw new IllegalStateException("no node of lab '" + l.name() + "' serves flows; `sluice status` says why");
            }
            return servers;
        }
    }

    /** {@code sluice metrics}: each agent's Prometheus endpoint, read from inside its node. */
    @Command(name = "metrics",
            description = "Print the Prometheus metrics of the lab's agents (served on 127.0.0.1:" + ClusterLayout.METRICS_PORT
                    + " in each node's network namespace).")
    static final class Metrics implements Callable<Integer> {
        @Mixin
        LabOptions lab;
        @Option(names = "--node", paramLabel = "NAME", description = "Only this node.")
        String node;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            LabState state = lab.lab().state();
            int failures = 0;
            for (LabState.NodeState n : state.nodes()) {
                if (node != null && !node.equals(n.name())) {
                    continue;
                }
                out.println("# node " + n.name());
                try {
                    out.print(scrape(n));
                } catch (IOException | RuntimeException e) {
                    spec.commandLine().getErr().println("metrics: node " + n.name() + ": " + e.getMessage());
                    failures++;
                }
                out.flush();
            }
            return failures == 0 ? 0 : 1;
        }

        /**
         * GET /metrics over a plain socket made on a thread inside the node's namespace: its 127.0.0.1 is the
         * node's loopback, which an HTTP client's own threads (in the host's namespace) would not reach.
         */
        static String scrape(LabState.NodeState node) throws IOException {
            // Not closed: closing a NetNs deletes the namespace, and this one belongs to the lab.
            NetNs ns = NetNs.existing(node.netns());
            return ns.call(() -> {
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), ClusterLayout.METRICS_PORT), 2000);
                    socket.setSoTimeout(5000);
                    OutputStream request = socket.getOutputStream();
                    request.write(("GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    request.flush();
                    InputStream in = socket.getInputStream();
                    ByteArrayOutputStream body = new ByteArrayOutputStream();
                    in.transferTo(body);
                    String response = body.toString(StandardCharsets.UTF_8);
                    int headerEnd = response.indexOf("\r\n\r\n");
                    if (!response.startsWith("HTTP/1.") || headerEnd < 0 || !response.substring(9, 12).equals("200")) {
                        throw new IOException("unexpected answer: " + response.lines().findFirst().orElse("(nothing)"));
                    }
                    return response.substring(headerEnd + 4);
                }
            });
        }
    }
}
