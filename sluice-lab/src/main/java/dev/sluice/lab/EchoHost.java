package dev.sluice.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.linux.NetNsRef;
import dev.sluice.workload.EchoServer;
import dev.sluice.workload.EchoSettings;
import dev.sluice.workload.UdpEchoServer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * One process per node that serves the echo workload of every echo pod of the node (issue 19: a JVM per pod cost
 * ~80 MiB and ~0.5 s of CPU to start). Each pod is a file {@code POD.json} in the node's directory, written by the lab
 * ({@link Spec}); for each, the listening sockets are made by a thread that has entered the pod's network namespace
 * ({@code setns}), while this process is in the pod's cgroup: a socket keeps the namespace and cgroup it was made in,
 * and connections accepted on it inherit both, so the pod answers from its own address, namespace and cgroup as the
 * datapath sees them (policy, socket load balancing, sockops), with its own identity. A removed file closes the pod's
 * sockets and connections.
 *
 * <p>What it does not give: the pod's CPU time is this process's, charged to its own cgroup, not the pod's (a pod that
 * a benchmark measures sets {@code SLUICE_ECHO_PROCESS=own} and gets a JVM of its own, see {@link PodFactory}); and
 * its sockets show no process in the pod ({@code ss -p} inside it).
 *
 * <p>Usage: {@code EchoHost DIR}. Runs until SIGTERM, or until DIR is gone (its lab was removed).
 */
public final class EchoHost {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One pod to serve: the file the lab writes.
     *
     * @param env the echo workload's settings, as its environment would carry them ({@link EchoSettings#fromEnvironment})
     * @param log where "listening" and errors are written: the pod's container log
     */
    public record Spec(String netns, String cgroup, Map<String, String> env, String log) {
    }

    private record Served(EchoServer tcp, UdpEchoServer udp) {
    }

    private EchoHost() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path ownCgroup = ownCgroup();
        EventLoopGroup loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        Map<Path, Served> served = new HashMap<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> served.values().forEach(EchoHost::close)));
        while (Files.isDirectory(dir)) {
            Set<Path> files;
            try (Stream<Path> list = Files.list(dir)) {
                files = list.filter(f -> f.getFileName().toString().endsWith(".json")).collect(Collectors.toSet());
            } catch (IOException e) {
                break; // the directory went away
            }
            for (Path gone : served.keySet().stream().filter(f -> !files.contains(f)).toList()) {
                close(served.remove(gone));
            }
            for (Path f : files) {
                if (!served.containsKey(f)) {
                    serve(f, loops, ownCgroup).ifPresent(s -> served.put(f, s));
                }
            }
            Thread.sleep(50);
        }
        System.exit(0);
    }

    private static java.util.Optional<Served> serve(Path file, EventLoopGroup loops, Path ownCgroup) {
        Spec spec;
        try {
            spec = JSON.readValue(file.toFile(), Spec.class);
        } catch (IOException e) {
            return java.util.Optional.empty(); // being written: read on the next round
        }
        try (NetNsRef ns = NetNsRef.open(Path.of(spec.netns()))) {
            EchoSettings settings = EchoSettings.fromEnvironment(spec.env());
            Served s = ns.call(() -> {
                // The sockets are the pod's: made in its network namespace (this thread's) and its cgroup (this process's,
                // for the moment: cgroup v2 moves whole processes).
                moveTo(Path.of(spec.cgroup()));
                try {
                    EchoServer tcp = EchoServer.start(loops, settings.identity(), settings.bindAddress(), settings.ports());
                    try {
                        return new Served(tcp, UdpEchoServer.start(settings.identity(), settings.bindAddress(), settings.udpPorts()));
                    } catch (IOException e) {
                        tcp.close();
                        throw e;
                    }
                } finally {
                    moveTo(ownCgroup);
                }
            });
            log(spec, "echo: " + settings.identity().namespace() + "/" + settings.identity().pod() + " listening on "
                    + s.tcp().boundPorts().stream().map(String::valueOf).collect(Collectors.joining(","))
                    + (s.udp().boundPorts().isEmpty() ? "" : " and UDP " + s.udp().boundPorts().stream().map(String::valueOf)
                    .collect(Collectors.joining(","))) + " (served by the node's echo host, pid " + ProcessHandle.current().pid() + ")");
            return java.util.Optional.of(s);
        } catch (RuntimeException e) {
            log(spec, "echo: cannot serve this pod: " + e.getMessage());
            return java.util.Optional.of(new Served(null, null)); // not retried: the pod's log says why, its probe fails
        }
    }

    private static void close(Served s) {
        if (s.tcp() != null) {
            s.tcp().close();
        }
        if (s.udp() != null) {
            s.udp().close();
        }
    }

    private static void moveTo(Path cgroup) {
        try {
            Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(ProcessHandle.current().pid()));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot move the echo host into " + cgroup, e);
        }
    }

    /** This process's cgroup v2 directory (the "0::" line of /proc/self/cgroup under the v2 mount). */
    private static Path ownCgroup() throws IOException {
        String rel = Files.readAllLines(Path.of("/proc/self/cgroup")).stream().filter(l -> l.startsWith("0::"))
                .findFirst().orElseThrow(() -> new IOException("no cgroup v2 line in /proc/self/cgroup")).substring(3);
        return dev.sluice.linux.Cgroups.requireV2Root().resolve(rel.substring(1));
    }

    private static void log(Spec spec, String line) {
        try {
            Files.writeString(Path.of(spec.log()), Instant.now() + " " + line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException ignored) {
            // the pod is being removed
        }
    }

    /** Writes the spec of one pod for the echo host of its node (atomically: the host reads whole files only). */
    static void write(Path dir, String file, Spec spec) {
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve(file + ".tmp");
            JSON.writeValue(tmp.toFile(), spec);
            Files.move(tmp, dir.resolve(file + ".json"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot write echo spec in " + dir, e);
        }
    }

    static List<String> command(Path dir) {
        return dev.sluice.linux.JavaCommand.of(EchoHost.class.getName(),
                List.of("-Xmx64m", "-Xss256k", "-Dio.netty.allocator.numDirectArenas=1", "-Dio.netty.allocator.numHeapArenas=1"),
                List.of(dir.toString()));
    }
}
