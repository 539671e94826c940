package dev.sluice.proxy;

import dev.sluice.l7.route.RouteTable;
import dev.sluice.proxy.control.ControlClient;
import dev.sluice.proxy.control.RouteTableCodec;
import dev.sluice.proxy.control.v1.ProxyHello;
import dev.sluice.proxy.control.v1.RouteTableUpdate;

import java.io.IOException;
import java.net.InetAddress;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The node's L7 proxy as its own process, started and watched by the node's agent:
 * {@code java ... dev.sluice.proxy.ProxyMain --node N --control unix:PATH [--listen ADDRESS:PORT] [--threads N]}.
 * It runs in the node's network namespace (it inherits the agent's), asks the agent for admission and its route
 * table over the control channel, and exits as soon as that channel's session ends: a proxy never outlives the
 * agent that supervises it (Java has no PR_SET_PDEATHSIG), so traffic never meets a proxy nobody configures.
 */
public final class ProxyMain {
    private ProxyMain() {
    }

    /** Exit status when the agent went away (the supervisor, if still there, restarts the proxy). */
    public static final int EXIT_AGENT_GONE = 3;
    /** How long a proxy retries its listener's port (a predecessor that was killed may still hold it). */
    private static final long BIND_RETRY_MS = 10_000;

    public static void main(String[] args) throws Exception {
        String node = argument(args, "--node", null);
        String control = argument(args, "--control", null);
        String listen = argument(args, "--listen", "0.0.0.0:15001");
        int threads = Integer.parseInt(argument(args, "--threads", "0"));
        if (node == null || control == null) {
            System.err.println("usage: ProxyMain --node NODE --control unix:PATH [--listen ADDRESS:PORT] [--threads N]");
            System.exit(2);
        }
        int colon = listen.lastIndexOf(':');
        InetAddress address = InetAddress.getByName(listen.substring(0, colon));
        int port = Integer.parseInt(listen.substring(colon + 1));
        log("starting on node " + node + ", control " + control + ", listener " + listen);

        ControlClient agent = ControlClient.connect(control);
        // The one place the route table comes from. Until the xDS client lands, the agent pushes the compiled table
        // on the control session; the xDS client will set this same source.
        RouteTableSource.Updatable routes = RouteTableSource.updatable(RouteTable.empty());
        AtomicLong routesVersion = new AtomicLong(0);
        CountDownLatch firstTable = new CountDownLatch(1);
        agent.attach(ProxyHello.newBuilder().setPid(ProcessHandle.current().pid()).setNode(node).build(),
                (RouteTableUpdate update) -> {
                    try {
                        routes.set(RouteTableCodec.decode(update));
                        routesVersion.set(update.getVersion());
                        log("route table version " + update.getVersion() + ": " + routes.current().describe());
                    } catch (RuntimeException e) {
                        // The table in force stays; the agent sees the version not acked in status.
                        log("route table version " + update.getVersion() + " refused, keeping version " + routesVersion.get()
                                + ": " + e.getMessage());
                    }
                    firstTable.countDown();
                },
                why -> {
                    log(why + "; exiting (the proxy never runs without its agent)");
                    Runtime.getRuntime().halt(EXIT_AGENT_GONE);
                });
        // Serve only once the table is in: a restarted proxy must not answer "no route" to traffic it should route.
        if (!firstTable.await(10, TimeUnit.SECONDS)) {
            log("no route table from the agent after 10 s; serving with none until it comes");
        }

        ProxyServer server = bind(routes, address, port, new ProxyServer.Options(threads, java.time.Duration.ofSeconds(5)), agent);
        log("listening on " + listen + " (" + server.transport() + ")");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
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
                        .setLocalReplies(s.localReplies()).setAdmissionDenied(agent.admission().deniedCount())
                        .setAdmissionUnavailable(agent.admission().unavailableCount())
                        .setAdmissionCacheEntries(agent.admission().cached()).setRoutesVersion(routesVersion.get())
                        .setTransport(server.transport()).addListeners(listen).build());
            } catch (RuntimeException e) {
                log("cannot report to the agent: " + e.getMessage());
            }
        }, 0, 1, TimeUnit.SECONDS);
        Thread.currentThread().join();
    }

    private static ProxyServer bind(RouteTableSource routes, InetAddress address, int port, ProxyServer.Options options,
                                    ControlClient agent) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + BIND_RETRY_MS;
        while (true) {
            try {
                return ProxyServer.start(routes, address, port, options, agent.admission());
            } catch (IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                log(e.getMessage() + "; retrying");
                Thread.sleep(200);
            }
        }
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
