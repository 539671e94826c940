package dev.sluice.lab;

import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.NodeState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.JavaCommand;
import dev.sluice.linux.NetNs;
import dev.sluice.model.ContainerPort;
import dev.sluice.model.ContainerSpec;
import dev.sluice.model.PodTemplate;
import dev.sluice.model.Protocol;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Makes and removes one pod: namespace, veth, address, cgroup and container processes. Containers
 * whose image has no command run the bundled echo workload, which answers with the pod's identity.
 */
final class PodFactory {
    static final String ECHO_MAIN = "dev.sluice.workload.EchoMain";
    private static final long STOP_GRACE_MS = 3_000;
    private static final long CHILD_TIMEOUT_MS = 5_000;
    /**
     * An echo container with {@code SLUICE_ECHO_PROCESS: own} in its env runs the echo workload in a JVM of its own
     * (~80 MiB), whose CPU time is the pod's cgroup's: for pods a benchmark measures. Others are served by the
     * node's {@link EchoHost}.
     */
    static final String ECHO_PROCESS = "SLUICE_ECHO_PROCESS";

    private final LabStore store;
    private final Path podExec;

    PodFactory(LabStore store) {
        this.store = store;
        this.podExec = store.dir().resolve("bin/pod-exec.sh");
    }

    /**
     * Writes the container launcher script next to the lab state (once per lab), and a {@code sluice} command
     * beside it that the launcher puts on the PATH of every pod: `lab exec POD -- sluice call ...` runs the
     * CLI of the Sluice that made the lab, inside the pod.
     */
    void installLauncher() {
        Path cli = podExec.resolveSibling("sluice");
        try (var in = PodFactory.class.getResourceAsStream("pod-exec.sh")) {
            Files.createDirectories(podExec.getParent());
            Files.write(podExec, in.readAllBytes());
            StringBuilder script = new StringBuilder("#!/bin/sh\n# The Sluice CLI inside the lab's pods.\nexec");
            for (String word : JavaCommand.sluice()) {
                script.append(' ').append(shellQuoted(word));
            }
            Files.writeString(cli, script.append(" \"$@\"\n").toString());
            cli.toFile().setExecutable(true, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot install " + podExec + " and " + cli, e);
        }
    }

    private static String shellQuoted(String word) {
        return "'" + word.replace("'", "'\\''") + "'";
    }

    static String netnsName(String lab, String namespace, String pod) {
        return LabNetwork.netnsPrefix(lab) + namespace + "-" + pod;
    }

    static String hostVeth(String lab, String namespace, String pod, long nonce) {
        return "lxc" + sha256(lab + "/" + namespace + "/" + pod + "/" + nonce).substring(0, 8);
    }

    /** Kubernetes' pod-template-hash: a short digest of the template, so a changed template means new pods. */
    static String templateHash(PodTemplate template) {
        try {
            return sha256(LabStore.JSON.writeValueAsString(template)).substring(0, 10);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A pod to make: where it goes (placed by {@link NodeCapacity}) and what it runs. */
    record PodPlan(String namespace, String name, NodeState node, String ip, PodTemplate template, Map<String, String> labels,
                   String owner, String hash, Map<String, String> serviceEnv) {
    }

    /** The pods {@link #createAll} made, and the first failure if one could not be made (that pod is removed again). */
    record Made(List<PodState> pods, Optional<RuntimeException> failure) {
    }

    /**
     * How many pods are made at once: their launchers and namespaces' {@code ip} runs overlap, bounded so that a
     * change of hundreds of pods does not start hundreds of processes at the same moment on a small machine.
     */
    static final int PARALLEL = 4;

    /**
     * Makes the pods of one change: every network namespace and veth per node in batches
     * ({@link LabNetwork#createPods}), then the cgroups, then the containers, {@link #PARALLEL} pods at a time.
     */
    Made createAll(String lab, List<PodPlan> plans, Path cgroupRoot, BringUpTimings timings) {
        if (plans.isEmpty()) {
            return new Made(List.of(), Optional.empty());
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(Math.min(PARALLEL, plans.size()));
        try {
            List<PodState> shells = new ArrayList<>();
            Map<String, List<LabNetwork.PodNet>> nets = new LinkedHashMap<>();
            Map<String, NodeState> nodes = new LinkedHashMap<>();
            for (PodPlan p : plans) {
                String netns = netnsName(lab, p.namespace(), p.name());
                String veth = hostVeth(lab, p.namespace(), p.name(), System.nanoTime());
                Path cgroup = cgroupRoot.resolve(p.node().name()).resolve(p.namespace() + "_" + p.name());
                String mac = LabNetwork.podMac();
                shells.add(new PodState(p.namespace(), p.name(), p.node().name(), p.ip(), netns, veth, cgroup.toString(), p.labels(),
                        p.owner(), p.hash(), List.of(), System.currentTimeMillis(), false, mac));
                nets.computeIfAbsent(p.node().name(), k -> new ArrayList<>()).add(new LabNetwork.PodNet(netns, veth, p.ip(), mac));
                nodes.put(p.node().name(), p.node());
            }
            try {
                for (var e : nets.entrySet()) {
                    LabNetwork.createPods(nodes.get(e.getKey()), e.getValue(), timings, pool);
                }
                timings.time(BringUpTimings.Step.CGROUP, () -> shells.forEach(s -> Cgroups.create(Cgroups.requireV2Root().relativize(Path.of(s.cgroup())))));
            } catch (RuntimeException e) {
                // Nothing runs in them yet: the namespaces and cgroups made so far go again.
                shells.forEach(s -> removeQuietly(s, e));
                return new Made(List.of(), Optional.of(e));
            }
            List<java.util.concurrent.Future<PodState>> started = new ArrayList<>();
            for (int i = 0; i < plans.size(); i++) {
                PodPlan plan = plans.get(i);
                PodState shell = shells.get(i);
                started.add(pool.submit(() -> timings.time(BringUpTimings.Step.PROCESS, () -> startContainers(lab, shell, plan))));
            }
            List<PodState> made = new ArrayList<>();
            RuntimeException failure = null;
            for (int i = 0; i < started.size(); i++) {
                try {
                    made.add(started.get(i).get());
                } catch (java.util.concurrent.ExecutionException e) {
                    failure = failure != null ? failure : e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failure = new IllegalStateException("interrupted", e);
                }
            }
            return new Made(made, Optional.ofNullable(failure));
        } finally {
            pool.shutdown();
        }
    }

    private void removeQuietly(PodState pod, RuntimeException into) {
        try {
            remove(pod);
        } catch (RuntimeException e) {
            into.addSuppressed(e);
        }
    }

    /** Starts the containers of a pod whose namespace, veth and cgroup exist; on failure the pod is removed again. */
    private PodState startContainers(String lab, PodState pod, PodPlan plan) {
        List<ContainerState> containers = new ArrayList<>();
        PodState partial = pod;
        try {
            for (ContainerSpec c : plan.template().containers()) {
                containers.add(start(lab, pod, plan.template(), c, plan.serviceEnv()));
                partial = withContainers(pod, containers);
            }
        } catch (RuntimeException e) {
            removeQuietly(partial, e);
            throw e;
        }
        return withContainers(pod, containers);
    }

    private static PodState withContainers(PodState p, List<ContainerState> containers) {
        return new PodState(p.namespace(), p.name(), p.node(), p.ip(), p.netns(), p.hostVeth(), p.cgroup(), p.labels(), p.owner(),
                p.templateHash(), List.copyOf(containers), p.createdEpochMs(), false, p.mac());
    }

    /** Starts one container of the pod (at creation, and again when the kubelet restarts it). */
    ContainerState start(String lab, PodState pod, PodTemplate template, ContainerSpec container, Map<String, String> serviceEnv) {
        List<Integer> tcpPorts = container.ports().stream().filter(p -> p.protocol() == Protocol.TCP)
                .map(ContainerPort::port).toList();
        // As the kubelet: the Services' variables first, the container's own env over them.
        Map<String, String> env = new LinkedHashMap<>(serviceEnv);
        env.putAll(container.env());
        env.put("POD_NAME", pod.name());
        env.put("POD_NAMESPACE", pod.namespace());
        env.put("POD_IP", pod.ip());
        env.put("NODE_NAME", pod.node());
        List<String> command = new ArrayList<>();
        if (container.command().isEmpty() && ClusterDns.IMAGE.equals(container.image())) {
            command.addAll(JavaCommand.of(ClusterDns.MAIN, List.of("-Xmx48m", "-Xss512k"), List.of()));
            env.putAll(ClusterDns.env(lab));
        } else if (container.command().isEmpty()) {
            env.put("SLUICE_POD", pod.name());
            env.put("SLUICE_NAMESPACE", pod.namespace());
            env.put("SLUICE_NODE", pod.node());
            env.put("SLUICE_LABELS", pod.labels().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                    .collect(Collectors.joining(",")));
            env.put("SLUICE_PORTS", tcpPorts.isEmpty() ? "8080" : tcpPorts.stream().map(String::valueOf).collect(Collectors.joining(",")));
            env.put("SLUICE_UDP_PORTS", container.ports().stream().filter(p -> p.protocol() == Protocol.UDP)
                    .map(p -> String.valueOf(p.port())).collect(Collectors.joining(",")));
        } else {
            command.addAll(container.command());
            command.addAll(container.args());
        }
        Path log = store.logs().resolve(pod.namespace() + "_" + pod.name() + "_" + container.name() + ".log");
        // An echo container with a securityContext or limits gets a process of its own: the echo host's sockets are
        // made as root and its CPU and memory are its own, so neither would be enforced on what the pod serves.
        boolean sharedEcho = container.command().isEmpty() && !ClusterDns.IMAGE.equals(container.image())
                && !"own".equals(env.get(ECHO_PROCESS)) && container.securityContext().equals(dev.sluice.model.SecuritySpec.DEFAULT)
                && container.limits().isEmpty();
        if (sharedEcho) {
            // The node's echo host serves the pod's sockets; the container is a pause process (as Kubernetes' pause
            // container) that holds the pod's PID namespace, for `lab exec`, `lab logs` and the pod's running state.
            ensureEchoHost(pod.node());
            Map<String, String> echoEnv = new LinkedHashMap<>(env);
            EchoHost.write(echoDir(pod.node()), pod.namespace() + "_" + pod.name() + "_" + container.name(),
                    new EchoHost.Spec(Path.of("/run/netns", pod.netns()).toString(), pod.cgroup(), echoEnv, log.toString()));
            command.addAll(List.of("sleep", "infinity"));
        } else if (container.command().isEmpty() && !ClusterDns.IMAGE.equals(container.image())) {
            command.addAll(echoWorkload());
        }
        // The DNS server reads the lab's state, which names pods by their processes: it keeps the machine's PID namespace.
        boolean ownPids = !ClusterDns.IMAGE.equals(container.image());
        Path exitFile = exitFile(pod, container.name());
        try {
            Files.createDirectories(exitFile.getParent());
            Files.deleteIfExists(exitFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + exitFile, e);
        }
        // The pod's limits (its containers share its cgroup), set again with each start: it returns the v1 cgroups to join.
        List<Path> limited = PodLimits.apply(lab, pod.node(), pod.namespace() + "_" + pod.name(), Path.of(pod.cgroup()),
                PodLimits.of(template));
        List<String> launch = run(pod, ownPids, container, limited, exitFile, command);
        // In the lab's journal, whoever starts it (the lab, or the node's kubelet restarting it): LabTeardown finds it.
        LabProcesses.Started started = LabProcesses.start(launch, env, log, store.processJournal());
        if (ownPids) {
            // What the lab must stop is the namespace's PID 1 (unshare's child): when it ends, the kernel ends the
            // rest of the namespace, and unshare with it.
            started = LabProcesses.firstChild(started, CHILD_TIMEOUT_MS).orElse(started);
        }
        List<Integer> readyPorts = container.command().isEmpty() && tcpPorts.isEmpty() ? List.of(8080) : tcpPorts;
        return new ContainerState(container.name(), container.image(), started.pid(), started.startTicks(), log.toString(), readyPorts);
    }

    /**
     * A new container's command wrapped in the container launcher: the pod's cgroup and network namespace,
     * its own mount namespace (the lab's /etc/hosts and /etc/resolv.conf), UTS namespace (hostname = pod name),
     * PID namespace unless {@code ownPids} is false, and the container runtime's default capabilities.
     */
    private List<String> run(PodState pod, boolean ownPids, ContainerSpec container, List<Path> moreCgroups, Path exitFile,
                             List<String> command) {
        List<String> cmd = new ArrayList<>(List.of("sh", podExec.toString(), "run", pod.cgroup(),
                moreCgroups.isEmpty() ? "-" : moreCgroups.stream().map(Path::toString).collect(Collectors.joining(":")),
                Path.of("/run/netns", pod.netns()).toString(), ownPids ? "pid" : "host",
                store.hostsFile(pod.namespace(), pod.name()).toString(), store.resolvFile(pod.namespace()).toString(), pod.name(),
                ContainerSecurity.capabilities(container.securityContext()), ContainerSecurity.setprivOptions(container.securityContext()),
                container.securityContext().readOnlyRootFilesystem() ? "ro" : "rw", exitFile.toString()));
        cmd.addAll(command);
        return cmd;
    }

    /** Where a container's init writes the command's exit status. */
    Path exitFile(PodState pod, String container) {
        return store.dir().resolve("exits").resolve(pod.namespace() + "_" + pod.name() + "_" + container);
    }

    /**
     * A command run inside the pod's first container, as {@code kubectl exec}: its cgroup, namespaces (network,
     * mount, UTS, PID) and capabilities.
     */
    List<String> inPod(PodState pod, ContainerSpec spec, List<String> command) {
        return inContainer(pod, pod.containers().getFirst(), spec, command);
    }

    /** A command run inside one container of the pod (an exec probe), with its user and capabilities. */
    List<String> inContainer(PodState pod, ContainerState container, ContainerSpec spec, List<String> command) {
        if (!LabProcesses.alive(container.pid(), container.startTicks())) {
            throw new LabException("pod " + pod.key() + ": container " + container.name() + " is not running");
        }
        dev.sluice.model.SecuritySpec security = spec == null ? dev.sluice.model.SecuritySpec.DEFAULT : spec.securityContext();
        List<String> cmd = new ArrayList<>(List.of("sh", podExec.toString(), "exec", pod.cgroup(), Long.toString(container.pid()),
                pod.name(), ContainerSecurity.capabilities(security), ContainerSecurity.setprivOptions(security)));
        cmd.addAll(command);
        return cmd;
    }

    /** Where the lab writes the echo pods of {@code node} for its echo host. */
    Path echoDir(String node) {
        return store.dir().resolve("echo").resolve(node);
    }

    /**
     * Starts the node's echo host unless it runs (its PID and start time in {@code echo/NODE.pid}): in the node's
     * network namespace and its own cgroup {@code echo/NODE} of the lab, which it is in before its JVM starts. A host
     * started again serves every pod file of the node, so the pods of a host that died answer again.
     */
    private synchronized void ensureEchoHost(String node) {
        Path pidFile = store.dir().resolve("echo").resolve(node + ".pid");
        try {
            if (Files.exists(pidFile)) {
                String[] w = Files.readString(pidFile).trim().split(" ");
                if (LabProcesses.alive(Long.parseLong(w[0]), Long.parseLong(w[1]))) {
                    return;
                }
            }
            Files.createDirectories(echoDir(node));
            LabState state = store.read().orElseThrow();
            String netns = state.node(node).orElseThrow().netns();
            Path cgroup = Cgroups.create(Cgroups.requireV2Root().relativize(Path.of(state.cgroupRoot()).resolve("echo").resolve(node)));
            List<String> cmd = new ArrayList<>(List.of("sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", cgroup.toString(),
                    "nsenter", "--net=" + Path.of("/run/netns", netns)));
            cmd.addAll(EchoHost.command(echoDir(node)));
            LabProcesses.Started started = LabProcesses.start(cmd, Map.of(), store.logs().resolve("echo-host-" + node + ".log"),
                    store.processJournal());
            Files.writeString(pidFile, started.pid() + " " + started.startTicks() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the echo host of " + node, e);
        }
    }

    /** The node's echo host, if one was started and still runs. */
    Optional<LabProcesses.Started> echoHost(String node) {
        try {
            String[] w = Files.readString(store.dir().resolve("echo").resolve(node + ".pid")).trim().split(" ");
            LabProcesses.Started s = new LabProcesses.Started(Long.parseLong(w[0]), Long.parseLong(w[1]));
            return LabProcesses.alive(s.pid(), s.startTicks()) ? Optional.of(s) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private void awaitEchoHostOut(String node, Path cgroup) {
        Optional<LabProcesses.Started> host = echoHost(node);
        long deadline = System.currentTimeMillis() + 2_000;
        while (host.isPresent() && Cgroups.procs(cgroup).contains(host.get().pid()) && System.currentTimeMillis() < deadline) {
            LabProcesses.sleep(5);
        }
    }

    /** The JVM command that runs the bundled echo workload, small and quick to start. */
    static List<String> echoWorkload() {
        return JavaCommand.of(ECHO_MAIN, List.of("-Xmx48m", "-Xss512k"), List.of());
    }

    /**
     * Waits until the pod is ready: each container without a readiness probe accepts TCP connections on its ports
     * (probed from the pod's node), and each with one passed it, as its node's kubelet reports ({@link KubeletReport}).
     * Returns null when it is ready, or why it is left unready: its readiness probe failed failureThreshold times in a
     * row, did not pass in time, or a container exited (the kubelet restarts it if its restartPolicy says so, after its
     * back-off; the reason then has the end of its log).
     */
    String awaitReady(PodState pod, NodeState node, PodTemplate template, long deadlineMs) {
        NetNs nodeNs = NetNs.existing(node.netns());
        for (ContainerState c : pod.containers()) {
            ContainerSpec spec = spec(template, c);
            if (spec != null && spec.readinessProbe() != null) {
                continue;
            }
            for (int port : c.ports()) {
                while (true) {
                    if (!LabProcesses.alive(c.pid(), c.startTicks())) {
                        return exitedBeforeReady(pod, c, template);
                    }
                    if (nodeNs.call(() -> accepts(pod.ip(), port))) {
                        break;
                    }
                    if (System.currentTimeMillis() > deadlineMs) {
                        throw new LabException("pod " + pod.key() + ": container " + c.name() + " is not listening on "
                                + pod.ip() + ":" + port + " in time; its log ends:\n" + tail(Path.of(c.log()), 15));
                    }
                    LabProcesses.sleep(50);
                }
            }
            if (!LabProcesses.alive(c.pid(), c.startTicks())) {
                return exitedBeforeReady(pod, c, template);
            }
        }
        while (true) {
            boolean ready = true;
            for (ContainerState c : pod.containers()) {
                ContainerSpec spec = spec(template, c);
                if (spec == null || spec.readinessProbe() == null) {
                    continue;
                }
                if (!LabProcesses.alive(c.pid(), c.startTicks())) {
                    return exitedBeforeReady(pod, c, template);
                }
                var probed = KubeletReport.read(store.kubeletReport(node.name())).flatMap(r -> r.of(pod.key(), c.name(), c.pid(), c.startTicks()));
                if (probed.isPresent() && !probed.get().ready() && probed.get().readinessFailures() >= spec.readinessProbe().failureThreshold()) {
                    return "container " + c.name() + ": " + probed.get().lastFailure();
                }
                ready &= probed.map(KubeletReport.Probed::ready).orElse(false);
            }
            if (ready) {
                return null;
            }
            if (System.currentTimeMillis() > deadlineMs) {
                return "its readiness probe did not pass in time (the kubelet keeps probing)";
            }
            LabProcesses.sleep(50);
        }
    }

    private static ContainerSpec spec(PodTemplate template, ContainerState c) {
        return template.containers().stream().filter(s -> s.name().equals(c.name())).findFirst().orElse(null);
    }

    /** A container that ended before its pod was ready: left to the kubelet if its restartPolicy restarts it. */
    private String exitedBeforeReady(PodState pod, ContainerState c, PodTemplate template) {
        int code = -1;
        try {
            code = Integer.parseInt(Files.readString(exitFile(pod, c.name())).strip());
        } catch (IOException | NumberFormatException e) {
            // not written (yet): unknown
        }
        if (template.restartPolicy().restarts(code)) {
            return "container " + c.name() + " exited" + (code >= 0 ? " with code " + code : "") + "; the kubelet restarts it"
                    + " (restartPolicy " + template.restartPolicy().manifestName() + ")";
        }
        if (code == 0) {
            return "container " + c.name() + " completed (exit code 0)";
        }
        // As a pod whose restartPolicy leaves it failed: the lab goes on, the pod stays, unready, for `lab describe`.
        return "container " + c.name() + " failed" + (code >= 0 ? " with exit code " + code : "") + " (restartPolicy "
                + template.restartPolicy().manifestName() + "); its log ends: " + tail(Path.of(c.log()), 3).replace('\n', ' ');
    }

    private static boolean accepts(String ip, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(ip, port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Stops the pod's processes (ours only, by PID and start time), then removes its namespace and cgroup. */
    void remove(PodState pod) {
        Steps steps = new Steps("pod " + pod.key() + " could not be removed completely");
        // First, so the node's echo host closes the pod's sockets (which would keep its network namespace alive).
        for (ContainerState c : pod.containers()) {
            steps.run(() -> {
                try {
                    Files.deleteIfExists(echoDir(pod.node()).resolve(pod.namespace() + "_" + pod.name() + "_" + c.name() + ".json"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
        for (ContainerState c : pod.containers()) {
            steps.run(() -> LabProcesses.stop(c.pid(), c.startTicks(), STOP_GRACE_MS));
        }
        Path cgroup = Path.of(pod.cgroup());
        // The node's echo host is in the pod's cgroup only while it makes the pod's sockets: waited for, never stopped.
        awaitEchoHostOut(pod.node(), cgroup);
        // Anything the containers left behind in the pod's cgroup (e.g. from `lab exec`) is ours as well:
        // asked to stop first, then killed with the cgroup.
        steps.run(() -> {
            for (Long pid : Cgroups.procs(cgroup)) {
                LabProcesses.startTicks(pid).ifPresent(t -> LabProcesses.stop(pid, t, 1_000));
            }
        });
        steps.run(() -> LabNetwork.deleteNetns(pod.netns()));
        steps.run(() -> Cgroups.remove(cgroup));
        steps.run(() -> PodLimits.remove(store.dir().getFileName().toString(), pod.node(), pod.namespace() + "_" + pod.name()));
        steps.run(() -> {
            try {
                for (ContainerState c : pod.containers()) {
                    Files.deleteIfExists(exitFile(pod, c.name()));
                }
                Files.deleteIfExists(store.hostsFile(pod.namespace(), pod.name()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        steps.throwIfFailed();
    }

    static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
