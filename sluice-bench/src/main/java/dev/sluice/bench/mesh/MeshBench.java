package dev.sluice.bench.mesh;

import dev.sluice.lab.Lab;
import dev.sluice.linux.Command;
import dev.sluice.model.ManifestReader;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code sluice bench}: the seed's sidecar-vs-eBPF table, measured. Brings up the labs the chosen scenarios need
 * (one node each, the seed's product-service and the demo's client pod), then runs every scenario once per
 * repetition, in an order that rotates from one repetition to the next (interleaved, so a slow minute of the
 * machine is spread over scenarios, not pinned on one), and reports medians and spread.
 *
 * <p>Everything it makes (labs, iptables rules, sidecar processes) is removed at the end, on failure, and on
 * Ctrl-C (a shutdown hook runs the same steps, newest first).
 */
public final class MeshBench {
    private static final int PORT = 50051;
    private static final String CLUSTER_CIDR = "10.244.0.0/16";

    private final BenchSettings settings;
    private final PrintWriter out;
    private final Deque<Step> cleanup = new ArrayDeque<>();
    private KubeProxy kubeProxy;
    private final java.util.Set<Scenario> warmed = java.util.EnumSet.noneOf(Scenario.class);
    private final Map<Scenario.LabKind, LabPods> labs = new EnumMap<>(Scenario.LabKind.class);

    /** One thing to undo, named for the message if undoing it fails. */
    private record Step(String what, Undo undo) {
    }

    @FunctionalInterface
    private interface Undo {
        void run() throws Exception;
    }

    public MeshBench(BenchSettings settings, PrintWriter out) {
        this.settings = settings;
        this.out = out;
    }

    /** Runs the benchmark and writes results.json and report.html under the settings' output directory. */
    public Results.Bench run() throws Exception {
        preflight();
        Files.createDirectories(settings.out().resolve("runs"));
        String loadBefore = Files.readString(Path.of("/proc/loadavg")).strip();
        Thread hook = new Thread(this::undoAll, "sluice-bench-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        List<Results.Run> runs = new ArrayList<>();
        try (AutoCloseable stats = Meter.enableBpfStats()) {
            upAll(settings.scenarios().stream().map(Scenario::lab).distinct().toList());
            List<Scenario> order = settings.scenarios();
            for (int rep = 1; rep <= settings.reps(); rep++) {
                for (int i = 0; i < order.size(); i++) {
                    Scenario s = order.get((i + rep - 1) % order.size());
                    Results.Run r = runOnce(s, rep);
                    runs.add(r);
                    out.printf("rep %d/%d %-17s %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  client %.3f  servers %.3f  proxy %.3f cores%n",
                            rep, settings.reps(), s.title(), r.actualQps(), r.corrected().p50(), r.corrected().p99(), r.errors(),
                            r.cpu().client(), r.cpu().servers(), r.cpu().proxy());
                    out.flush();
                }
            }
        } finally {
            undoAll();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it found nothing left to undo
            }
        }
        String loadAfter = Files.readString(Path.of("/proc/loadavg")).strip();
        Results.Bench bench = Report.build(settings, machine(loadBefore, loadAfter), runs);
        Report.write(bench, settings.out());
        return bench;
    }

    private void preflight() {
        if (!"0".equals(Command.run("id", "-u").strip())) {
            throw new IllegalStateException("sluice bench needs root (labs, iptables in pod namespaces, eBPF statistics): run it with sudo");
        }
        if (settings.scenarios().contains(Scenario.SIDECAR) && !Command.exec(List.of("haproxy", "-v")).ok()) {
            throw new IllegalStateException("the sidecar scenario needs HAProxy: apt-get install haproxy (scripts/test installs it), or leave it out "
                    + "with --scenario");
        }
        if (!Files.isDirectory(settings.examples().resolve("seed"))) {
            throw new IllegalStateException("no seed manifests at " + settings.examples().resolve("seed") + ": run from the checkout or pass --examples DIR");
        }
    }

    /** The labs at once: each `lab up` mostly waits (JVMs starting, agents syncing), so together they take little more than one. */
    private void upAll(List<Scenario.LabKind> kinds) throws Exception {
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            List<java.util.concurrent.Future<?>> ups = new ArrayList<>();
            for (Scenario.LabKind kind : kinds) {
                ups.add(pool.submit(() -> {
                    up(kind);
                    return null;
                }));
            }
            Exception failure = null;
            for (var f : ups) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    failure = failure == null && e.getCause() instanceof Exception c ? c : failure;
                }
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    private void up(Scenario.LabKind kind) throws IOException {
        Path seed = settings.examples().resolve("seed");
        Path values = settings.out().resolve("values-" + kind.name().toLowerCase() + ".yaml");
        List<Path> manifests = new ArrayList<>(List.of(seed.resolve("product-service.yaml"), settings.examples().resolve("demo/client.yaml")));
        switch (kind) {
            case PLAIN -> Files.writeString(values, """
                    # No mesh: no Service load balancing (kube-proxy's job here), no flows, no L7. The agent keeps only the policy
                    # programs on the pods' veths, which pass everything while no policy selects a pod (a CNI's minimum).
                    kubeProxyReplacement: false
                    socketLB:
                      enabled: false
                    hubble:
                      enabled: false
                    serviceMesh:
                      enabled: false
                    """);
            case SLUICE -> Files.copy(seed.resolve("cilium-values.yaml"), values, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            case BYPASS -> Files.writeString(values, Files.readString(seed.resolve("cilium-values.yaml")) + "\nsockops:\n  enabled: true\n");
        }
        if (kind != Scenario.LabKind.PLAIN) {
            manifests.add(settings.examples().resolve("demo/policy.yaml")); // the seed's story: product-service accepts the client
        }
        Lab lab = Lab.named(settings.labNames().isEmpty() ? "bench-" + kind.name().toLowerCase() + "-" + ProcessHandle.current().pid() % 100000
                : settings.labNames().get(kind.ordinal()));
        out.printf("lab %s up (%s)...%n", lab.name(), kind.name().toLowerCase());
        out.flush();
        push("lab down " + lab.name(), () -> {
            if (Files.exists(lab.store().dir())) {
                lab.down();
            }
        });
        // The servers' CPU and memory are read from their pods' cgroups: each runs its own echo JVM there, not the
        // node's shared echo host (whose work is charged to its own cgroup).
        lab.up(1, Lab.withOwnEchoProcesses(ManifestReader.read(manifests, w -> { })), values);
        LabPods pods = LabPods.of(lab);
        synchronized (labs) {
            labs.put(kind, pods);
        }
        if (kind == Scenario.LabKind.PLAIN && settings.scenarios().contains(Scenario.KUBE_PROXY)) {
            KubeProxy rules = KubeProxy.install(pods.node(), LabPods.SERVICE, "grpc", pods.clusterIp(), PORT,
                    pods.servers().stream().map(LabPods.Pod::ip).toList(), CLUSTER_CIDR);
            push("kube-proxy rules in " + pods.node().name(), rules::close);
            kubeProxy = rules;
        }
    }

    private Results.Run runOnce(Scenario s, int rep) throws Exception {
        LabPods pods = labs.get(s.lab());
        String target = (s == Scenario.NO_MESH ? pods.servers().getFirst().ip() : pods.clusterIp()) + ":" + PORT;
        Sidecars sidecars = null;
        int depth = depth();
        try {
            if (s == Scenario.SIDECAR) {
                sidecars = Sidecars.start(settings.out().resolve("sidecars"), pods.cgroupRoot(), pods, PORT);
                push("sidecars of " + pods.lab().name(), sidecars::close);
            }
            if (s == Scenario.SLUICE_L7) {
                Path canary = settings.examples().resolve("seed/canary-routing.yaml");
                pods.lab().apply(ManifestReader.read(List.of(canary), w -> { }));
                push("delete canary-routing.yaml from " + pods.lab().name(), () -> pods.lab().delete(ManifestReader.read(List.of(canary), w -> { })));
            }
            return measure(s, rep, pods, target, sidecars);
        } finally {
            undoTo(depth);
        }
    }

    private Results.Run measure(Scenario s, int rep, LabPods pods, String target, Sidecars sidecars) throws Exception {
        Map<String, Path> cgroups = new LinkedHashMap<>();
        cgroups.put("client", pods.client().cgroup());
        pods.servers().forEach(p -> cgroups.put("server:" + p.name(), p.cgroup()));
        cgroups.put("agent", pods.agentCgroup());
        if (sidecars != null) {
            sidecars.sidecars().forEach(c -> cgroups.put("sidecar:" + c.pod(), c.cgroup()));
        }
        long proxyPid = s == Scenario.SLUICE_L7 ? nodeProxyPid(pods) : 0;
        Optional<GcLog> gc = proxyPid > 0 ? GcLog.follow(proxyPid, settings.out().resolve("node-proxy-gc-" + pods.lab().name() + ".log"))
                : Optional.empty();
        List<Long> pids = proxyPid > 0 ? List.of(proxyPid) : List.of();
        Meter meter = new Meter(labs.values().stream().map(p -> Lab.pinRoot(p.lab().name())).collect(java.util.stream.Collectors.toSet()));
        Path json = settings.out().resolve("runs").resolve(s.id() + "-" + rep + ".json");
        long dnatBefore = s == Scenario.KUBE_PROXY ? kubeProxy.dnatPackets() : 0;
        int depth = depth();
        // A scenario's first run warms up four times as long: the proxies (the node proxy's JVM starts with the first L7
        // configuration, in that run) and the servers meet this path for the first time; later runs find them warm. Not in
        // a quick run, which measures nothing worth the wait.
        Duration warmup = warmed.add(s) && !settings.quick() ? settings.warmup().multipliedBy(4) : settings.warmup();
        LoadRun load = LoadRun.start(pods.lab(), "deploy/client", target, settings, warmup, settings.duration(), json);
        push("stop sluice load in " + pods.lab().name(), load::stop);
        try {
            // The load generator's JVM starts (settle), warms up, then measures for its duration: CPU is counted from
            // settle + warm-up to warm-up + duration after the launch, inside the measured part whatever the JVM's start took
            // up to settle.
            long warm = warmup.toNanos();
            sleepUntil(load.startedNanos() + warm + settings.settle().toNanos());
            Meter.Snapshot a = meter.snapshot(cgroups, pids);
            sleepUntil(load.startedNanos() + warm + settings.duration().toNanos());
            Meter.Snapshot b = meter.snapshot(cgroups, pids);
            LoadRun.Outcome o = load.await(warmup.plus(settings.duration()));
            Meter.Window w = Meter.between(a, b);
            checkPath(s, sidecars, dnatBefore, proxyPid > 0 ? w.procs().getOrDefault(proxyPid, 0.0) : 0);
            double servers = sum(w.cgroups(), "server:");
            double sidecarCpu = sum(w.cgroups(), "sidecar:");
            double nodeProxy = proxyPid > 0 ? w.procs().getOrDefault(proxyPid, 0.0) : 0;
            Results.Cpu cpu = new Results.Cpu(w.cgroups().get("client"), servers, sidecarCpu + nodeProxy, w.cgroups().get("agent") - nodeProxy,
                    w.machineBusy(), w.machineSoftirq(), w.bpf());
            double proxyMem = sidecars != null ? sidecars.sidecars().stream().mapToLong(c -> Meter.vmHwm(c.process().pid())).sum()
                    : proxyPid > 0 ? Meter.vmHwm(proxyPid) : 0;
            Results.Memory mem = new Results.Memory(mib(Meter.memoryPeak(pods.client().cgroup())),
                    mib(pods.servers().stream().mapToLong(p -> Meter.memoryPeak(p.cgroup())).sum()), mib((long) proxyMem));
            double[] pauses = gc.map(GcLog::pauses).orElse(new double[] {-1, Double.NaN});
            String note = w.bpfAll() ? "bpf: every program on the machine (no pinned lab links found)" : "";
            return new Results.Run(s.id(), rep, settings.qps(), o.actualQps(), o.requests(), o.errors(), o.unsent(), o.codes(), o.corrected(), o.uncorrected(),
                    cpu, w.seconds(), mem, pauses[1], (int) pauses[0], o.spectrum(), note);
        } finally {
            undoTo(depth); // the load generator's stop: a no-op once it ended
        }
    }

    /**
     * That the run took the path its scenario names, from the kernel's counters: the DNAT rules, the sidecars' REDIRECT
     * rules, the node proxy's CPU. A run that quietly went direct would otherwise be a wrong row in the table.
     */
    private void checkPath(Scenario s, Sidecars sidecars, long dnatBefore, double nodeProxyCores) {
        switch (s) {
            case KUBE_PROXY -> {
                long n = kubeProxy.dnatPackets() - dnatBefore;
                if (n <= 0) {
                    throw new IllegalStateException("kube-proxy run: no connection was DNATed by the KUBE-SEP rules");
                }
            }
            case SIDECAR -> sidecars.sidecars().forEach(c -> {
                if (Sidecars.redirected(c) <= 0) {
                    throw new IllegalStateException("sidecar run: the REDIRECT rule of " + c.pod() + " caught no connection");
                }
            });
            case SLUICE_L7 -> {
                if (nodeProxyCores <= 0) {
                    throw new IllegalStateException("Sluice L7 run: the node proxy used no CPU, so no request went through it");
                }
            }
            default -> {
            }
        }
    }

    /** The node proxy's PID: the process in the agent's cgroup running ProxyMain. */
    private static long nodeProxyPid(LabPods pods) throws IOException {
        try (var dirs = Files.walk(pods.agentCgroup())) {
            for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                for (String pid : Files.readAllLines(dir.resolve("cgroup.procs"))) {
                    Path cmdline = Path.of("/proc", pid.strip(), "cmdline");
                    if (Files.exists(cmdline) && new String(Files.readAllBytes(cmdline)).contains("dev.sluice.proxy.ProxyMain")) {
                        return Long.parseLong(pid.strip());
                    }
                }
            }
        }
        throw new IllegalStateException("no node proxy (dev.sluice.proxy.ProxyMain) in " + pods.agentCgroup()
                + " after canary-routing.yaml was applied: see sluice status --lab " + pods.lab().name());
    }

    private static double sum(Map<String, Double> m, String prefix) {
        return m.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToDouble(Map.Entry::getValue).sum();
    }

    private static double mib(long bytes) {
        return bytes < 0 ? -1 : bytes / 1048576.0;
    }

    private static void sleepUntil(long nanos) throws InterruptedException {
        long left = nanos - System.nanoTime();
        if (left > 0) {
            Thread.sleep(Duration.ofNanos(left));
        }
    }

    private synchronized void push(String what, Undo undo) {
        cleanup.push(new Step(what, undo));
    }

    private synchronized int depth() {
        return cleanup.size();
    }

    private void undoAll() {
        undoTo(0);
    }

    /**
     * Undoes what was recorded after the first {@code depth} steps, newest first; each step is tried even if one before
     * it failed. Under the lock, so that Ctrl-C's hook and the run's own cleanup never undo the same step twice.
     */
    private synchronized void undoTo(int depth) {
        while (cleanup.size() > depth) {
            Step step = cleanup.pop();
            try {
                step.undo().run();
            } catch (Exception e) {
                out.println("sluice bench: cleanup step failed: " + step.what() + ": " + e.getMessage());
                out.flush();
            }
        }
    }

    private static Results.Machine machine(String before, String after) {
        String cpu = "unknown";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("unknown");
        } catch (IOException e) {
            // left unknown
        }
        return new Results.Machine(Command.run("uname", "-r").strip(), cpu, Runtime.getRuntime().availableProcessors(), before, after);
    }
}
