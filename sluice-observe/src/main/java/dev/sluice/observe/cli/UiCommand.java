package dev.sluice.observe.cli;

import dev.sluice.observe.ui.NodeMergeFlowSource;
import dev.sluice.observe.ui.UiServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code sluice ui}: the service-map web UI, in the foreground until stopped. Flows come from the nodes' Observer
 * APIs (their unix sockets, read from this machine's namespace), never from a lab address.
 */
@Command(name = "ui", description = "Serve the service-map web UI (live graph and flows table) on http://127.0.0.1:12000, as Hubble UI.")
public class UiCommand implements Callable<Integer> {
    public static final int DEFAULT_PORT = 12000;

    @Spec
    private CommandSpec spec;
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    private boolean help;
    @Option(names = "--server", paramLabel = "unix:///PATH|HOST:PORT",
            description = "An Observer API (a node's, or a Hubble Relay's) to read; repeat it for several nodes (default: the lab's relay, else every node of the lab).")
    private List<String> servers = new ArrayList<>();
    @Option(names = "--port", paramLabel = "PORT", description = "TCP port on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    private int port = DEFAULT_PORT;
    @Option(names = "--address", paramLabel = "IP",
            description = "Loopback address to listen on (default: ${DEFAULT-VALUE}); any address only in a Kubernetes pod.")
    private String address = "127.0.0.1";
    @Option(names = "--url-file", paramLabel = "FILE", description = "Write the URL served there once listening (for whoever started the UI).")
    private Path urlFile;

    /** grpc-java resolves {@code unix:///path} itself; a bare HOST:PORT (a relay's Service) needs the dns scheme spelled out. */
    static String target(String server) {
        return server.startsWith("unix:") || server.contains("://") ? server : "dns:///" + server;
    }

    /** The servers read when no --server is given. */
    protected List<String> defaultServers() {
        return List.of(ObserveCommand.DEFAULT_SERVER);
    }

    /** The command's spec, for subclasses. */
    protected CommandSpec spec() {
        return spec;
    }

    @Override
    public Integer call() throws Exception {
        InetAddress ip = InetAddress.getByName(address);
        if (!dev.sluice.observe.ServingAddress.allowed(ip)) {
            spec.commandLine().getErr().println("ui: --address " + address + " is not a loopback address: flows name pods and policies,"
                    + " so the UI serves this machine only (in a Kubernetes pod, where KUBERNETES_SERVICE_HOST is set, any address is taken)");
            return 2;
        }
        List<String> targets = servers.isEmpty() ? null : servers.stream().map(UiCommand::target).toList();
        // Asked now as well as on every subscription, so that a lab that does not exist is said at once.
        List<String> first = targets != null ? targets : defaultServers();
        if (first.isEmpty()) {
            spec.commandLine().getErr().println("ui: no Observer API to read (no node, and no --server)");
            return 1;
        }
        UiServer server;
        try {
            NodeMergeFlowSource source = new NodeMergeFlowSource(() -> targets != null ? targets : defaultServers());
            InetSocketAddress listen = new InetSocketAddress(ip, port);
            server = ip.isLoopbackAddress() ? UiServer.start(listen, source) : UiServer.startInPod(listen, source);
        } catch (IOException e) {
            spec.commandLine().getErr().println("ui: cannot listen on " + address + ":" + port + ": " + e.getMessage()
                    + " (is another `sluice ui` running? --port picks another port)");
            return 1;
        }
        String url = "http://" + (address.contains(":") ? "[" + address + "]" : address) + ":" + server.port() + "/";
        if (urlFile != null) {
            Path tmp = urlFile.resolveSibling(urlFile.getFileName() + ".tmp");
            Files.writeString(tmp, url + "\n");
            Files.move(tmp, urlFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        spec.commandLine().getOut().println("Sluice UI on " + url + " (Ctrl-C stops it)");
        spec.commandLine().getOut().flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }));
        stopped.await();
        return 0;
    }
}
