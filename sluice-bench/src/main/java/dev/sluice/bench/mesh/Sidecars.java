package dev.sluice.bench.mesh;

import dev.sluice.linux.Cgroups;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The sidecar data path as Istio builds it, with HAProxy standing in for Envoy: one proxy in each pod's network
 * namespace, and istio-init's iptables REDIRECT so that the application never knows. Outbound, the client pod's
 * TCP to the Service port goes to its sidecar (port 15001) unless the sidecar itself sends it (uid 1337, as
 * Istio's proxy user), and the sidecar balances requests over the endpoints (HTTP/2 on both sides, as Envoy
 * does for gRPC); inbound, each server pod's TCP to the application port arrives at its sidecar (port 15006),
 * which passes it to the application. Two user-space proxies per request.
 *
 * <p>Each HAProxy runs in a cgroup of its own under the lab's ({@code sidecars/POD}), so its CPU is counted apart
 * from the pod's and {@code lab down} would end it even if this process were killed; {@link #close} ends them by
 * PID and removes the rules.
 */
final class Sidecars implements AutoCloseable {
    static final int OUTBOUND_PORT = 15001;
    static final int INBOUND_PORT = 15006;
    static final int PROXY_UID = 1337;

    /** One pod's sidecar: the namespace it redirects in, its process and cgroup. */
    record Sidecar(String pod, Netns netns, Process process, Path cgroup, List<String> rule) {
    }

    private final List<Sidecar> sidecars = new ArrayList<>();
    private final Path configDir;

    private Sidecars(Path configDir) {
        this.configDir = configDir;
    }

    /** Starts the client's and every server's sidecar and redirects their traffic; on failure removes what it made. */
    static Sidecars start(Path configDir, Path cgroupRoot, LabPods pods, int port) {
        Sidecars s = new Sidecars(configDir);
        try {
            StringBuilder servers = new StringBuilder();
            int i = 0;
            for (LabPods.Pod server : pods.servers()) {
                servers.append("    server s").append(i++).append(' ').append(server.ip()).append(':').append(port).append(" proto h2\n");
            }
            s.add(pods.client(), cgroupRoot, OUTBOUND_PORT, config("outbound", OUTBOUND_PORT, "    balance roundrobin\n" + servers),
                    List.of("-t", "nat", "OUTPUT", "-p", "tcp", "--dport", Integer.toString(port), "-m", "owner", "!", "--uid-owner",
                            Integer.toString(PROXY_UID), "-j", "REDIRECT", "--to-ports", Integer.toString(OUTBOUND_PORT)));
            for (LabPods.Pod server : pods.servers()) {
                s.add(server, cgroupRoot, INBOUND_PORT, config("inbound", INBOUND_PORT, "    server app " + server.ip() + ":" + port + " proto h2\n"),
                        List.of("-t", "nat", "PREROUTING", "-p", "tcp", "!", "-i", "lo", "--dport", Integer.toString(port), "-j", "REDIRECT",
                                "--to-ports", Integer.toString(INBOUND_PORT)));
            }
            return s;
        } catch (RuntimeException e) {
            try {
                s.close();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** Istio's defaults where HAProxy has an equivalent: HTTP/2 both ways, generous timeouts, no logging on the request path. */
    private static String config(String name, int listen, String backend) {
        return """
                global
                    uid %d
                    gid %d
                defaults
                    mode http
                    timeout connect 5s
                    timeout client 120s
                    timeout server 120s
                frontend %s
                    bind 0.0.0.0:%d proto h2
                    default_backend app
                backend app
                %s""".formatted(PROXY_UID, PROXY_UID, name, listen, backend);
    }

    private void add(LabPods.Pod pod, Path cgroupRoot, int listen, String config, List<String> rule) {
        Path file = configDir.resolve("haproxy-" + pod.name() + ".cfg");
        Path cgroup = cgroupRoot.resolve("sidecars").resolve(pod.name());
        try {
            Files.createDirectories(configDir);
            Files.writeString(file, config);
            Cgroups.create(Cgroups.requireV2Root().relativize(cgroup));
            Process p = new ProcessBuilder(pod.netns().wrap(List.of("haproxy", "-db", "-f", file.toString())))
                    .redirectErrorStream(true).redirectOutput(configDir.resolve("haproxy-" + pod.name() + ".log").toFile()).start();
            // nsenter execs haproxy in place, so this PID is the proxy's.
            Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(p.pid()));
            sidecars.add(new Sidecar(pod.name(), pod.netns(), p, cgroup, rule));
            awaitListening(pod, p, listen);
            List<String> add = new ArrayList<>(List.of("iptables", "-w", "5"));
            add.addAll(rule.subList(0, 2));
            add.add("-A");
            add.addAll(rule.subList(2, rule.size()));
            pod.netns().run(add, null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the sidecar of " + pod.name() + ": " + e.getMessage(), e);
        }
    }

    private static void awaitListening(LabPods.Pod pod, Process p, int port) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("the sidecar of " + pod.name() + " (haproxy) exited with " + p.exitValue()
                        + "; is haproxy installed (apt-get install haproxy)?");
            }
            if (pod.netns().run("ss", "-Hltn", "sport = :" + port).contains(":" + port)) {
                return;
            }
            sleep(50);
        }
        throw new IllegalStateException("the sidecar of " + pod.name() + " does not listen on " + port + " after 10 s");
    }

    /** Connections the sidecar's REDIRECT rule sent to it. */
    static long redirected(Sidecar s) {
        return packets(s.netns().run("iptables", "-w", "5", "-t", "nat", "-L", "-v", "-x", "-n"), "REDIRECT");
    }

    /** The packet counters of the rules with {@code target} in {@code iptables -L -v -x -n} output, summed. */
    static long packets(String listing, String target) {
        return listing.lines().map(String::strip).map(l -> l.split("\\s+"))
                .filter(f -> f.length > 3 && f[0].matches("\\d+") && f[2].equals(target)).mapToLong(f -> Long.parseLong(f[0])).sum();
    }

    List<Sidecar> sidecars() {
        return List.copyOf(sidecars);
    }

    /** Rules first (traffic goes direct again), then each HAProxy by its PID, then its cgroup. Every step is tried. */
    @Override
    public void close() {
        RuntimeException failure = null;
        for (Sidecar s : sidecars.reversed()) {
            try {
                List<String> del = new ArrayList<>(List.of("iptables", "-w", "5"));
                del.addAll(s.rule().subList(0, 2));
                del.add("-D");
                del.addAll(s.rule().subList(2, s.rule().size()));
                try {
                    s.netns().run(del, null);
                } catch (IllegalStateException notThere) {
                    // Started but its rule never added (it failed to listen): nothing to remove.
                }
                s.process().destroy();
                if (!s.process().waitFor(5, TimeUnit.SECONDS)) {
                    s.process().destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
                Cgroups.remove(s.cgroup());
            } catch (RuntimeException e) {
                failure = failure == null ? e : failure;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        sidecars.clear();
        if (failure != null) {
            throw failure;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
