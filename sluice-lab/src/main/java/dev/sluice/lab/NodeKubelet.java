package dev.sluice.lab;

import dev.sluice.lab.LabState.ContainerExit;
import dev.sluice.lab.LabState.ContainerState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.model.ContainerSpec;
import dev.sluice.model.PodTemplate;
import dev.sluice.model.ProbeSpec;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One node's kubelet, as far as the lab needs one: it runs the readiness and liveness probes of the node's containers
 * (from the node's network namespace, which it runs in, to the pod's address, as the kubelet does), records a pod's
 * readiness in the lab's state when it changes (so the agents take an unready pod out of every Service and cluster
 * DNS out of its headless answers, and put it back when it passes), stops a container whose liveness probe failed
 * failureThreshold times in a row, and starts an exited container again as the pod's restartPolicy says, after
 * Kubernetes' back-off: at once the first time, then 10 s doubling to 5 min, from nothing again after 10 min running
 * (CrashLoopBackOff while it waits). What it does is told as pod events ({@link PodEvents}).
 *
 * <p>It changes the state only under the lab's lock, on the state it then reads, and only for the process it
 * observed (PID and start time): a pod that `lab apply` removed meanwhile, or a container already restarted, is left
 * alone. It never waits for the lock: while a lab command holds it, what it found waits for the next round.
 *
 * <p>Usage: {@code NodeKubelet LAB NODE}; it ends by itself once the lab's state is gone.
 */
public final class NodeKubelet {
    static final long FIRST_BACKOFF_MS = 10_000;
    static final long MAX_BACKOFF_MS = 300_000;
    /** A container that ran this long was healthy: its back-off starts from nothing again (twice the maximum, as the kubelet's). */
    static final long HEALTHY_RUN_MS = 600_000;
    private static final long TICK_MS = 100;
    private static final long STOP_GRACE_MS = 2_000;

    private final String lab;
    private final String node;
    private final LabStore store;
    private final PodFactory pods;
    private final Prober prober;
    private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "probe");
        t.setDaemon(true);
        return t;
    });
    /** What probes found, handed from the workers to the loop. */
    private final ConcurrentLinkedQueue<Runnable> results = new ConcurrentLinkedQueue<>();
    private final Map<String, Tracked> tracked = new HashMap<>();
    /** What waits for the lock, one per kind, pod, container and process: a round that finds it again replaces it. */
    private final Map<String, Action> pending = new LinkedHashMap<>();
    private boolean reportChanged = true;

    NodeKubelet(String lab, String node) {
        this.lab = lab;
        this.node = node;
        this.store = LabStore.of(lab);
        this.pods = new PodFactory(store);
        this.prober = new Prober(pods);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: NodeKubelet LAB NODE");
            System.exit(2);
        }
        new NodeKubelet(args[0], args[1]).run();
    }

    void run() throws IOException {
        System.out.println("kubelet of " + node + " in lab " + lab + ": probing and restarting its containers");
        long version = Long.MIN_VALUE;
        LabState state = null;
        while (store.exists()) {
            try {
                long v = store.version();
                if (v != version || state == null) {
                    state = store.read().orElse(null);
                    version = v;
                }
            } catch (IOException | java.io.UncheckedIOException e) {
                state = null; // going away, or replaced meanwhile: read again next round
            }
            if (state != null) {
                try {
                    round(state);
                } catch (RuntimeException e) {
                    // One bad round (a state replaced while read, a process that could not start) must not end the kubelet:
                    // nothing would probe or restart this node's containers any more. What failed is logged; the next round tries again.
                    System.out.println("kubelet: a round failed: " + e);
                    state = null;
                }
            }
            LabProcesses.sleep(TICK_MS);
        }
        workers.shutdownNow();
    }

    /** One round: what each container's process and probes say, then what must change, under the lock if free. */
    private void round(LabState state) {
        long now = System.currentTimeMillis();
        Runnable r;
        while ((r = results.poll()) != null) {
            r.run();
        }
        Set<String> seen = new HashSet<>();
        for (PodState pod : state.pods()) {
            if (!pod.node().equals(node)) {
                continue;
            }
            Optional<PodTemplate> template = LabView.template(state, pod);
            if (template.isEmpty()) {
                continue;
            }
            for (ContainerState c : pod.containers()) {
                ContainerSpec spec = template.get().containers().stream().filter(s -> s.name().equals(c.name())).findFirst().orElse(null);
                if (spec == null) {
                    continue;
                }
                if (c.pid() == 0) {
                    if (c.waiting() != null && now >= c.waitingUntilEpochMs()) {
                        queue(new Restart(pod.key(), c.name(), c.restartCount()));
                    }
                    continue;
                }
                String key = pod.key() + "/" + c.name() + "#" + c.pid() + ":" + c.startTicks();
                seen.add(key);
                Tracked t = tracked.get(key);
                if (t == null) {
                    t = new Tracked(pod, c, spec, pod.ready() || c.ready(), now);
                    tracked.put(key, t);
                    reportChanged = true;
                }
                t.pod = pod;
                if (spec.readinessProbe() == null && (c.ready() || pod.ready())) {
                    t.ready = true; // the lab found its ports accepting: nothing for the kubelet to decide
                }
                if (!LabProcesses.alive(c.pid(), c.startTicks())) {
                    if (!t.busy()) {
                        queue(new Exited(pod.key(), c.name(), c.pid(), c.startTicks(), exit(pod, c, t, now)));
                    }
                    continue;
                }
                probe(t, now);
                boolean podReady = pod.ready();
                Tracked probed = t;
                boolean wantPodReady = state.pods().stream().filter(p -> p.key().equals(pod.key())).findFirst()
                        .map(p -> p.containers().stream().allMatch(x -> x.name().equals(c.name()) ? probed.ready : x.ready()))
                        .orElse(false);
                if (probed.ready != c.ready() || podReady != wantPodReady) {
                    queue(new SetReady(pod.key(), c.name(), c.pid(), c.startTicks(), probed.ready));
                }
            }
        }
        if (tracked.keySet().retainAll(seen)) {
            reportChanged = true;
        }
        apply();
        writeReport();
    }

    private void queue(Action a) {
        String key = switch (a) {
            case SetReady r -> "ready " + r.pod() + "/" + r.container() + "#" + r.pid();
            case Exited e -> "exited " + e.pod() + "/" + e.container() + "#" + e.pid();
            case Restart r -> "restart " + r.pod() + "/" + r.container() + "#" + r.restartCount();
        };
        pending.put(key, a);
    }

    // ---- probes

    /** What the kubelet keeps of one container process. */
    private static final class Tracked {
        PodState pod;
        final ContainerState container;
        final ContainerSpec spec;
        final long firstSeenMs;
        boolean ready;
        int successes;
        int readinessFailures;
        int livenessFailures;
        String lastFailure = "";
        long nextReadinessMs;
        long nextLivenessMs;
        boolean readinessRunning;
        boolean livenessRunning;
        /** Set once the liveness probe failed enough: the kubelet is stopping the process. */
        String killedBecause;
        boolean stopping;

        Tracked(PodState pod, ContainerState container, ContainerSpec spec, boolean ready, long now) {
            this.pod = pod;
            this.container = container;
            this.spec = spec;
            this.ready = ready;
            this.firstSeenMs = now;
            long started = container.startedAtEpochMs() > 0 ? container.startedAtEpochMs() : now;
            if (spec.readinessProbe() != null) {
                nextReadinessMs = started + spec.readinessProbe().initialDelaySeconds() * 1000L;
            }
            if (spec.livenessProbe() != null) {
                nextLivenessMs = started + spec.livenessProbe().initialDelaySeconds() * 1000L;
            }
        }

        boolean busy() {
            return stopping;
        }
    }

    private void probe(Tracked t, long now) {
        if (t.stopping) {
            return;
        }
        ProbeSpec readiness = t.spec.readinessProbe();
        if (readiness != null) {
            if (!t.readinessRunning && now >= t.nextReadinessMs) {
                t.readinessRunning = true;
                t.nextReadinessMs = now + readiness.periodSeconds() * 1000L;
                workers.execute(() -> {
                    Prober.Result result = prober.run(readiness, t.pod, t.container, t.spec);
                    results.add(() -> readinessResult(t, readiness, result));
                });
            }
        } else if (!t.ready && !t.readinessRunning && now >= t.nextReadinessMs) {
            // Without a readiness probe a container is ready once running; the lab also waits for its TCP ports to accept
            // (as `lab apply` does), so a restarted echo server is not sent connections before it listens.
            t.readinessRunning = true;
            t.nextReadinessMs = now + 100;
            workers.execute(() -> {
                boolean accepts = t.container.ports().stream().allMatch(port -> accepts(t.pod.ip(), port));
                results.add(() -> {
                    t.readinessRunning = false;
                    if (accepts) {
                        t.ready = true;
                        reportChanged = true;
                    }
                });
            });
        }
        ProbeSpec liveness = t.spec.livenessProbe();
        if (liveness != null && !t.livenessRunning && now >= t.nextLivenessMs) {
            t.livenessRunning = true;
            t.nextLivenessMs = now + liveness.periodSeconds() * 1000L;
            workers.execute(() -> {
                Prober.Result result = prober.run(liveness, t.pod, t.container, t.spec);
                results.add(() -> livenessResult(t, liveness, result));
            });
        }
    }

    private void readinessResult(Tracked t, ProbeSpec probe, Prober.Result result) {
        t.readinessRunning = false;
        reportChanged = true;
        if (result.success()) {
            t.readinessFailures = 0;
            t.successes++;
            if (!t.ready && t.successes >= probe.successThreshold()) {
                t.ready = true;
            }
        } else {
            t.successes = 0;
            t.readinessFailures++;
            t.lastFailure = "Readiness probe failed: " + result.message();
            PodEvents.append(store, t.pod.key(), "Warning", "Unhealthy", t.lastFailure);
            if (t.ready && t.readinessFailures >= probe.failureThreshold()) {
                t.ready = false;
            }
        }
    }

    private void livenessResult(Tracked t, ProbeSpec probe, Prober.Result result) {
        t.livenessRunning = false;
        reportChanged = true;
        if (result.success()) {
            t.livenessFailures = 0;
            return;
        }
        t.livenessFailures++;
        t.lastFailure = "Liveness probe failed: " + result.message();
        PodEvents.append(store, t.pod.key(), "Warning", "Unhealthy", t.lastFailure);
        if (t.livenessFailures >= probe.failureThreshold() && !t.stopping) {
            t.stopping = true;
            t.killedBecause = "failed liveness probe";
            t.ready = false;
            PodEvents.append(store, t.pod.key(), "Normal", "Killing", "Container " + t.container.name()
                    + " failed liveness probe, will be restarted");
            ContainerState c = t.container;
            workers.execute(() -> {
                LabProcesses.stop(c.pid(), c.startTicks(), STOP_GRACE_MS);
                results.add(() -> t.stopping = false);
            });
        }
    }

    private static boolean accepts(String ip, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(ip, port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** How the process ended: the status its init wrote, what the kubelet did to it, or the memory limit. */
    private ContainerExit exit(PodState pod, ContainerState c, Tracked t, long now) {
        int code = -1;
        try {
            String written = Files.readString(pods.exitFile(pod, c.name())).strip();
            if (!written.isEmpty()) {
                code = Integer.parseInt(written);
            }
        } catch (IOException | NumberFormatException e) {
            // no init (a host-PID pod), or killed before it could write: unknown
        }
        if (t.killedBecause != null && code < 0) {
            code = 137;
        }
        String reason;
        if (code == 137 && t.killedBecause == null && PodLimits.oomKilled(lab, pod.node(), pod.namespace() + "_" + pod.name(), Path.of(pod.cgroup()))) {
            reason = "OOMKilled";
        } else if (code == 0) {
            reason = "Completed";
        } else {
            reason = "Error";
        }
        long started = c.startedAtEpochMs() > 0 ? c.startedAtEpochMs() : t.firstSeenMs;
        return new ContainerExit(code, reason, started, now);
    }

    // ---- changes to the state

    /** A change the kubelet wants in the state; applied under the lock, on the state then in force. */
    private sealed interface Action {
        /** The state with the change made, or the same state if it no longer applies. */
        LabState applyTo(LabState state, NodeKubelet kubelet, long now);
    }

    private record SetReady(String pod, String container, long pid, long startTicks, boolean ready) implements Action {
        @Override
        public LabState applyTo(LabState state, NodeKubelet k, long now) {
            return k.current(state, pod, container, pid, startTicks).map(p -> {
                PodState changed = p.withContainer(p.container(container).orElseThrow().withReady(ready));
                boolean all = changed.containers().stream().allMatch(ContainerState::ready);
                if (all != p.ready()) {
                    PodEvents.append(k.store, pod, "Normal", all ? "Ready" : "NotReady", all
                            ? "all containers ready: the pod is a backend of its Services again"
                            : "container " + container + " is not ready: the pod leaves its Services' backends");
                }
                return state.replacePod(changed.withReady(all));
            }).orElse(state);
        }
    }

    private record Exited(String pod, String container, long pid, long startTicks, ContainerExit exit) implements Action {
        @Override
        public LabState applyTo(LabState state, NodeKubelet k, long now) {
            Optional<PodState> found = k.current(state, pod, container, pid, startTicks);
            if (found.isEmpty()) {
                return state;
            }
            PodState p = found.get();
            ContainerState c = p.container(container).orElseThrow();
            PodTemplate template = LabView.template(state, p).orElseThrow();
            boolean restarts = template.restartPolicy().restarts(exit.code());
            long ran = exit.finishedAtEpochMs() - exit.startedAtEpochMs();
            long backOff = backOff(c, ran);
            PodEvents.append(k.store, pod, exit.code() == 0 ? "Normal" : "Warning", "Exited", "Container " + container
                    + " exited with code " + exit.code() + " (" + exit.reason() + ") after " + ran / 1000 + " s" + (restarts ? ""
                    : "; restartPolicy " + template.restartPolicy().manifestName() + ": not restarted"));
            PodState changed = p.withContainer(c.exited(exit, restarts, backOff, now)).withReady(false);
            LabState next = state.replacePod(changed);
            if (restarts && backOff > 0) {
                PodEvents.append(k.store, pod, "Warning", "BackOff", "Back-off " + backOff / 1000 + "s restarting failed container="
                        + container + " pod=" + p.name());
            } else if (restarts) {
                next = new Restart(pod, container, c.restartCount()).applyTo(next, k, now);
            }
            return next;
        }
    }

    /** The back-off before the next start: none the first time or after a healthy run, then 10 s doubling to 5 min. */
    static long backOff(ContainerState c, long ranMs) {
        if (c.restartCount() == 0 || ranMs >= HEALTHY_RUN_MS) {
            return 0;
        }
        return c.backOffMs() == 0 ? FIRST_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, c.backOffMs() * 2);
    }

    private record Restart(String pod, String container, int restartCount) implements Action {
        @Override
        public LabState applyTo(LabState state, NodeKubelet k, long now) {
            Optional<PodState> found = state.pods().stream().filter(p -> p.key().equals(pod)).findFirst();
            if (found.isEmpty()) {
                return state;
            }
            PodState p = found.get();
            Optional<ContainerState> c = p.container(container);
            Optional<PodTemplate> template = LabView.template(state, p);
            if (c.isEmpty() || template.isEmpty() || c.get().pid() != 0 || c.get().restartCount() != restartCount
                    || (c.get().waiting() == null && c.get().terminated() == null && c.get().lastExit() == null)) {
                return state;
            }
            ContainerSpec spec = template.get().containers().stream().filter(s -> s.name().equals(container)).findFirst().orElse(null);
            if (spec == null) {
                return state;
            }
            ContainerState started = k.pods.start(k.lab, p, template.get(), spec, ServiceEnv.of(p.namespace(), state.desired().services(),
                    state.clusterIps()));
            PodEvents.append(k.store, pod, "Normal", "Started", "Started container " + container + " (restart "
                    + (restartCount + 1) + ", pid " + started.pid() + ")");
            return state.replacePod(p.withContainer(c.get().restarted(started.pid(), started.startTicks(), now)));
        }
    }

    /** The pod, if the container is still the process observed. */
    private Optional<PodState> current(LabState state, String pod, String container, long pid, long startTicks) {
        return state.pods().stream().filter(p -> p.key().equals(pod) && p.node().equals(node)).findFirst()
                .filter(p -> p.container(container).map(c -> c.pid() == pid && c.startTicks() == startTicks).orElse(false));
    }

    private void apply() {
        if (pending.isEmpty()) {
            return;
        }
        Optional<LabStore.Lock> lock = store.tryLock();
        if (lock.isEmpty()) {
            return; // a lab command is at work: next round
        }
        try (LabStore.Lock held = lock.get()) {
            Optional<LabState> read = store.read();
            if (read.isEmpty()) {
                return;
            }
            LabState before = read.get();
            LabState state = before;
            long now = System.currentTimeMillis();
            for (Action a : pending.values()) {
                try {
                    state = a.applyTo(state, this, now);
                } catch (RuntimeException e) {
                    System.out.println("kubelet: " + a + " failed: " + e.getMessage());
                    PodEvents.append(store, podOf(a), "Warning", "Failed", e.getMessage());
                }
            }
            pending.clear();
            if (!state.equals(before)) {
                store.write(state);
            }
        }
    }

    private static String podOf(Action a) {
        return switch (a) {
            case SetReady s -> s.pod();
            case Exited e -> e.pod();
            case Restart r -> r.pod();
        };
    }

    private void writeReport() {
        if (!reportChanged) {
            return;
        }
        reportChanged = false;
        Map<String, List<KubeletReport.Probed>> out = new LinkedHashMap<>();
        for (Tracked t : tracked.values()) {
            out.computeIfAbsent(t.pod.key(), k -> new ArrayList<>()).add(new KubeletReport.Probed(t.container.name(), t.container.pid(),
                    t.container.startTicks(), t.ready, t.readinessFailures, t.livenessFailures, t.lastFailure));
        }
        try {
            new KubeletReport(System.currentTimeMillis(), out).write(store.kubeletReport(node));
        } catch (IOException e) {
            System.out.println("kubelet: cannot write its report: " + e.getMessage());
        }
    }
}
