package dev.sluice.proxy;

import dev.sluice.l7.route.RouteTable;
import dev.sluice.l7.xds.ListenerBinding;
import dev.sluice.l7.xds.XdsException;
import dev.sluice.proxy.control.ControlClient;
import dev.sluice.proxy.control.ControlCodec;
import dev.sluice.proxy.control.v1.ProxyHello;
import dev.sluice.proxy.xds.XdsClient;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The node's L7 proxy as its own process, started and watched by the node's agent:
 * {@code java ... dev.sluice.proxy.ProxyMain --node N --control unix:PATH --xds unix:PATH [--config-dump FILE]
 * [--threads N]}. It runs in the node's network namespace (it inherits the agent's), takes its listeners and
 * routes over xDS, asks the agent for admission over the control channel, and exits as soon as that channel's
 * session ends: a proxy never outlives the agent that supervises it (Java has no PR_SET_PDEATHSIG), so traffic
 * never meets a proxy nobody configures or decides policy for.
 */
public final class ProxyMain {
    private ProxyMain() {
    }

    /** Exit status when the agent went away (the supervisor, if still there, restarts the proxy). */
    public static final int EXIT_AGENT_GONE = 3;
    /** How long a listener's port is retried (a predecessor that was killed may still hold it for a moment). */
    private static final long BIND_RETRY_MS = 10_000;
    /** Access records waiting for the report stream; beyond this many they are dropped (and counted). */
    private static final int ACCESS_LOG_QUEUE = 65_536;

    public static void main(String[] args) throws Exception {
        String node = argument(args, "--node", null);
        String control = argument(args, "--control", null);
        String xds = argument(args, "--xds", null);
        String dump = argument(args, "--config-dump", null);
        int threads = Integer.parseInt(argument(args, "--threads", "0"));
        if (node == null || control == null || xds == null || !xds.startsWith("unix:")) {
            System.err.println("usage: ProxyMain --node NODE --control unix:PATH --xds unix:PATH [--config-dump FILE] [--threads N]");
            System.exit(2);
        }
        log("starting on node " + node + ", control " + control + ", xDS " + xds);

        ControlClient agent = ControlClient.connect(control);
        agent.attach(ProxyHello.newBuilder().setPid(ProcessHandle.current().pid()).setNode(node).build(), why -> {
            log(why + "; exiting (the proxy never runs without its agent)");
            Runtime.getRuntime().halt(EXIT_AGENT_GONE);
        });
        // The table and the listeners come from xDS alone: the proxy serves nothing before its first complete set.
        RouteTableSource.Updatable routes = RouteTableSource.updatable(RouteTable.empty());
        // Access records go to the agent (its flows) on the report stream, through a bounded queue off the event loops.
        AccessLogQueue accessLog = new AccessLogQueue(record -> agent.accessLog(ControlCodec.record(record)), ACCESS_LOG_QUEUE);
        ProxyServer server = ProxyServer.create(routes, new ProxyServer.Options(threads, Duration.ofSeconds(5)), agent.admission(),
                accessLog);
        XdsClient client = new XdsClient(Path.of(xds.substring("unix:".length()).replaceFirst("^//", "")), node, config -> {
            routes.set(config.table());
            List<String> problems = listen(server, config.listeners());
            if (!problems.isEmpty()) {
                // NACKed: the agent's status shows it, and load balancing is not told of listeners that are not there.
                throw new XdsException(String.join("; ", problems));
            }
            log("applied " + config.listeners().size() + " listener(s): " + server.listeners() + "; " + config.table().describe());
        }, dump == null ? null : Path.of(dump)).start();
        log("transport " + server.transport());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            client.close();
            server.close();
            agent.close();
        }));
        var reporter = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "proxy-stats");
            t.setDaemon(true);
            return t;
        });
        reporter.scheduleWithFixedDelay(() -> {
            try {
                ProxyStats s = server.stats();
                agent.stats(dev.sluice.proxy.control.v1.ProxyStats.newBuilder()
                        .setDownstreamConnections(s.downstreamConnections()).setRequests(s.requests()).setRetries(s.retries())
                        .setLocalReplies(s.localReplies())
                        .setUpstreamConnects(s.upstreamConnects()).setClientSourceConnects(s.clientSourceConnects())
                        .setDatapathDrops(s.datapathDrops()).setEjections(s.ejections())
                        .setUpstreamIdleCloses(s.upstreamIdleCloses()).setTimeouts(s.timeouts()).setAdmissionDenied(agent.admission().deniedCount())
                        .setAdmissionUnavailable(agent.admission().unavailableCount())
                        .setAdmissionCacheEntries(agent.admission().cached()).setTransport(server.transport())
                        .addAllListeners(server.listeners().entrySet().stream().map(e -> e.getKey() + " on " + e.getValue()).toList())
                        .build());
            } catch (RuntimeException e) {
                log("cannot report to the agent: " + e.getMessage());
            }
        }, 0, 1, TimeUnit.SECONDS);
        Thread.currentThread().join();
    }

    /** Binds what xDS asks for, retrying a while: a killed predecessor's port may take a moment to be free. */
    private static List<String> listen(ProxyServer server, List<ListenerBinding> wanted) {
        long deadline = System.currentTimeMillis() + BIND_RETRY_MS;
        List<String> problems = server.listen(wanted);
        while (!problems.isEmpty() && System.currentTimeMillis() < deadline) {
            log(String.join("; ", problems) + "; retrying");
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            problems = server.listen(wanted);
        }
        return problems;
    }

    static void log(String message) {
        System.out.println(Instant.now() + " proxy: " + message);
    }

    private static String argument(String[] args, String name, String fallback) {
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }
}
