package dev.sluice.lab;

import dev.sluice.agent.api.AgentLauncher;
import dev.sluice.agent.api.AgentStatus;
import dev.sluice.agent.api.ClusterLayout;
import dev.sluice.agent.api.NodeLayout;
import dev.sluice.agent.api.StatusFile;
import dev.sluice.lab.LabState.AgentState;
import dev.sluice.lab.LabState.KubeletState;
import dev.sluice.lab.LabState.NodeState;
import dev.sluice.lab.LabState.PodState;
import dev.sluice.linux.Cgroups;
import dev.sluice.linux.JavaCommand;
import dev.sluice.model.ContainerSpec;
import dev.sluice.model.DeploymentSpec;
import dev.sluice.model.Desired;
import dev.sluice.model.PodSpec;
import dev.sluice.model.PodTemplate;
import dev.sluice.model.ServiceSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * A Kubernetes-like cluster on this machine: nodes and pods as network namespaces and cgroups, built
 * from ordinary manifests. Every command takes the lab's lock, reads its state, changes the machine and
 * writes the state back, so commands from different shells see one lab.
 */
public final class Lab {
    public static final String DEFAULT_NAME = "sluice";
    /** The address every node owns on each pod veth: pods' default gateway, and the source of node-to-pod traffic. */
    public static final String POD_GATEWAY = AddressPlan.POD_GATEWAY;
    private static final long READY_TIMEOUT_MS = 60_000;
    private static final long AGENT_SYNC_TIMEOUT_MS = 30_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String name;
    private final LabStore store;
    private final PodFactory pods;
    /** Told what a long command is doing as it goes (the CLI shows it on a terminal); nothing by default. */
    private java.util.function.Consumer<String> progress = step -> { };

    private Lab(String name) {
        if (!name.matches("[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?")) {
            throw new LabException("lab name '" + name + "' must be 1-20 lowercase letters, digits or '-'");
        }
        this.name = name;
        this.store = LabStore.of(name);
        this.pods = new PodFactory(store);
    }

    /**
     * {@code desired} with {@code SLUICE_ECHO_PROCESS: own} in the env of every echo container (no command, not the
     * cluster DNS): each then runs the echo workload in a JVM of its own in its pod's cgroup rather than on the node's
     * echo host, so that what a benchmark reads of a pod's cgroup (CPU, memory) is what serving it cost.
     */
    public static Desired withOwnEchoProcesses(Desired desired) {
        java.util.function.UnaryOperator<PodTemplate> own = t -> new PodTemplate(t.labels(), t.containers().stream().map(c -> {
            if (!c.command().isEmpty() || ClusterDns.IMAGE.equals(c.image())) {
                return c;
            }
            Map<String, String> env = new LinkedHashMap<>(c.env());
            env.put(PodFactory.ECHO_PROCESS, "own");
            return new ContainerSpec(c.name(), c.image(), c.command(), c.args(), c.ports(), env, c.readinessProbe(), c.livenessProbe(),
                    c.securityContext(), c.limits());
        }).toList(), t.restartPolicy());
        return new Desired(desired.namespaces(),
                desired.deployments().stream().map(d -> new DeploymentSpec(d.ref(), d.replicas(), d.selector(), own.apply(d.template()),
                        d.source())).toList(),
                desired.pods().stream().map(p -> new PodSpec(p.ref(), own.apply(p.template()), p.nodeName(), p.source())).toList(),
                desired.services(), desired.others());
    }

    public static Lab named(String name) {
        return new Lab(name);
    }

    public String name() {
        return name;
    }

    /** Where {@code up}, {@code apply} and {@code delete} report each step as they go ("starting pod X", "waiting for ..."). */
    public Lab onProgress(java.util.function.Consumer<String> listener) {
        this.progress = listener == null ? step -> { } : listener;
        return this;
    }

    public LabStore store() {
        return store;
    }

    public LabState state() {
        return store.read().orElseThrow(() -> new LabException("no lab named '" + name + "' is running (start one with: sluice lab up -f FILE)"));
    }

    /**
     * The lock of a lab that exists; for one that does not, the error, without creating its directory (a
     * mistyped `lab down` must not leave anything behind).
     */
    private LabStore.Lock lockRunning() {
        state();
        return store.lock();
    }

    /**
     * What a change did, for the CLI to print.
     *
     * @param pending  pods that fit on no node, and why
     * @param notReady pods created but left unready, each with the reason (a failing readiness probe, a crashing container)
     */
    public record Changes(List<String> created, List<String> deleted, long millis, List<LabState.PendingPods> pending,
                          Map<String, String> notReady) {
        public Changes {
            pending = pending == null ? List.of() : List.copyOf(pending);
            notReady = notReady == null ? Map.of() : Map.copyOf(notReady);
        }

        public Changes(List<String> created, List<String> deleted, long millis) {
            this(created, deleted, millis, List.of(), Map.of());
        }

        Changes took(long ms) {
            return new Changes(created, deleted, ms, pending, notReady);
        }
    }

    /**
     * Creates the lab with {@code nodes} nodes and applies {@code desired}. On failure everything made so
     * far is removed again.
     */
    public Changes up(int nodes, Desired desired, Path valuesFile) {
        return up(nodes, NodeState.DEFAULT_MAX_PODS, desired, valuesFile);
    }

    /**
     * {@link #up(int, Desired, Path)} with at most {@code maxPods} pods a node (the kubelet's {@code maxPods});
     * pods beyond it, or beyond a node's pod CIDR, stay Pending.
     */
    public Changes up(int nodes, int maxPods, Desired desired, Path valuesFile) {
        if (nodes < 1 || nodes > 16) {
            throw new LabException("--nodes must be between 1 and 16, got " + nodes);
        }
        if (maxPods < 1) {
            throw new LabException("--max-pods must be at least 1, got " + maxPods);
        }
        long start = System.currentTimeMillis();
        try (LabStore.Lock lock = store.lock()) {
            Optional<LabState> previous = readable();
            // Up is a lab whose `up` finished and one of whose agents runs; anything else of this name is what a killed
            // `up` or a crash left: removed first.
            if (previous.isPresent() && Files.exists(upDone()) && previous.get().agents().stream().anyMatch(Lab::running)) {
                throw new LabException("lab '" + name + "' is already up: change it with 'sluice lab apply', or remove it with 'sluice lab down'");
            }
            LabTeardown leftovers = new LabTeardown(name, store);
            if (leftovers.anythingLeft()) {
                leftovers.run(previous);
                store.recreateDir();
            }
            validate(desired, null);
            desired = ClusterDns.under(store, desired);
            validate(desired, null);
            Path cgroupRoot = Cgroups.requireV2Root().resolve("sluice-lab-" + name);
            AddressPlan plan = AddressPlan.DEFAULT;
            List<NodeState> nodeList = new ArrayList<>();
            for (int i = 1; i <= nodes; i++) {
                String node = "node-" + i;
                nodeList.add(new NodeState(node, i, LabNetwork.netnsPrefix(name) + node, plan.nodeAddress(i), plan.podCidr(i),
                        cgroupRoot.resolve(node).toString(), maxPods));
            }
            String values = copyValues(valuesFile);
            LabState state = new LabState(name, cgroupRoot.toString(), LabNetwork.fabricNetns(name), nodeList, Desired.empty(),
                    Map.of(), List.of(), List.of(), values, System.currentTimeMillis(), List.of());
            // Recorded before anything is made, so that `lab down` can always find what to remove.
            store.write(state);
            try {
                pods.installLauncher();
                progress.accept("creating " + nodes + " node(s): namespaces, fabric, cgroups");
                LabNetwork.createFabric(name);
                for (NodeState node : nodeList) {
                    LabNetwork.createNode(name, node);
                    Cgroups.create(Cgroups.requireV2Root().relativize(Path.of(node.cgroup())));
                }
                // Routes between nodes are the agents' (their routing subsystem), written on their first sync.
                progress.accept("starting the agents and kubelets");
                state = startAgents(state);
                store.write(state);
                state = startKubelets(state);
                store.write(state);
                BringUpTimings timings = new BringUpTimings();
                Changes changes = reconcile(state, desired, timings);
                timings.time(BringUpTimings.Step.AGENTS, () -> awaitAgents(state()));
                if (HubbleRelay.wanted(state)) {
                    progress.accept("starting Hubble Relay");
                    HubbleRelay.start(store, state, n -> layout(n).observerSocket());
                }
                timings.append(store, "up", changes.created().size());
                LabUi.startIfEnabled(store, name, state()); // hubble.ui.enabled: `sluice ui`, stopped by `lab down`
                markUpDone();
                return changes.took(System.currentTimeMillis() - start);
            } catch (RuntimeException e) {
                try {
                    teardown(store.read().orElse(state));
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
        }
    }

    /**
     * Adds or replaces objects in the running lab: pods are created, rolled or removed to match. Returns
     * once every running agent has applied the result, so what was applied is in force (policies included).
     */
    public Changes apply(Desired changes) {
        long start = System.currentTimeMillis();
        try (LabStore.Lock lock = lockRunning()) {
            LabState state = state();
            Desired next = state.desired().apply(changes);
            validate(next, state);
            BringUpTimings timings = new BringUpTimings();
            Changes c = reconcile(state, next, timings);
            timings.time(BringUpTimings.Step.AGENTS, () -> awaitAgents(state()));
            timings.append(store, "apply", c.created().size());
            return c.took(System.currentTimeMillis() - start);
        }
    }

    /** A label key as Kubernetes takes it: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
    private static final java.util.regex.Pattern LABEL_KEY = java.util.regex.Pattern.compile(
            "([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?");
    private static final java.util.regex.Pattern LABEL_VALUE = java.util.regex.Pattern.compile(
            "([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");

    /**
     * Changes labels in place, as {@code kubectl label} does: of a pod ({@code [ns/]name}, as {@link #pod}), or of a
     * namespace ({@code ns/NAME} or {@code namespace/NAME}). The pod keeps running, with its address, veth and
     * connections; its identity and every policy selecting it follow, and this returns once every agent has applied
     * the change, as {@link #apply} does. A Deployment's pod keeps its labels until the Deployment rolls it.
     *
     * @param set labels to add or overwrite
     * @param remove keys to remove ({@code key-})
     * @throws LabException naming the label that is not a valid key or value, or the pod or namespace that does not exist
     */
    public Changes label(String target, Map<String, String> set, java.util.Set<String> remove) {
        long start = System.currentTimeMillis();
        for (Map.Entry<String, String> e : set.entrySet()) {
            requireLabel(e.getKey(), e.getValue());
        }
        remove.forEach(k -> requireLabel(k, ""));
        try (LabStore.Lock lock = lockRunning()) {
            LabState state = state();
            String what;
            if (target.startsWith("ns/") || target.startsWith("namespace/")) {
                String ns = target.substring(target.indexOf('/') + 1);
                if (!namespaces(state).contains(ns)) {
                    throw new LabException("no namespace '" + ns + "' in lab '" + name + "'");
                }
                Map<String, String> labels = new LinkedHashMap<>(state.desired().namespaces().stream()
                        .filter(n -> n.name().equals(ns)).findFirst().map(dev.sluice.model.NamespaceSpec::labels).orElse(Map.of()));
                labels.putAll(set);
                remove.forEach(labels::remove);
                Desired one = new Desired(List.of(new dev.sluice.model.NamespaceSpec(ns, labels)), List.of(), List.of(), List.of(), List.of());
                store.write(state.withDesired(state.desired().apply(one)));
                what = "namespace/" + ns;
            } else {
                PodState pod = pod(target);
                Map<String, String> labels = new LinkedHashMap<>(pod.labels());
                labels.putAll(set);
                remove.forEach(labels::remove);
                String hash = pod.templateHash();
                LabState next = state;
                // A bare pod's manifest in the lab's state takes the labels too, as the API server's object does:
                // a later apply of something else leaves them, and an apply of the pod's manifest sets them again.
                Optional<PodSpec> spec = state.desired().pods().stream().filter(p -> p.ref().toString().equals(pod.key())).findFirst();
                if (pod.owner() == null && spec.isPresent()) {
                    dev.sluice.model.PodTemplate template = new dev.sluice.model.PodTemplate(labels, spec.get().template().containers(),
                            spec.get().template().restartPolicy());
                    PodSpec relabeledSpec = new PodSpec(spec.get().ref(), template, spec.get().nodeName(), spec.get().source());
                    next = next.withDesired(next.desired().apply(new Desired(List.of(), List.of(), List.of(relabeledSpec), List.of(), List.of())));
                    hash = PodFactory.templateHash(template);
                }
                store.write(next.replacePod(relabeled(pod, labels, hash)));
                what = pod.key();
            }
            awaitAgents(state());
            return new Changes(List.of(what), List.of(), System.currentTimeMillis() - start);
        }
    }

    private static void requireLabel(String key, String value) {
        if (!LABEL_KEY.matcher(key).matches() || key.indexOf('/') > 253) {
            throw new LabException("label key '" + key + "' is not valid: an optional DNS prefix and '/', then at most 63"
                    + " letters, digits, '-', '_' or '.', beginning and ending with a letter or digit");
        }
        if (!LABEL_VALUE.matcher(value).matches()) {
            throw new LabException("label value '" + value + "' of '" + key + "' is not valid: at most 63 letters, digits,"
                    + " '-', '_' or '.', beginning and ending with a letter or digit");
        }
    }

    /** The same pod with other labels (and the template hash they belong to): nothing of it is restarted. */
    private static PodState relabeled(PodState p, Map<String, String> labels, String templateHash) {
        return new PodState(p.namespace(), p.name(), p.node(), p.ip(), p.netns(), p.hostVeth(), p.cgroup(), labels, p.owner(),
                templateHash, p.containers(), p.createdEpochMs(), p.ready(), p.mac());
    }

    /** Removes objects from the running lab (and the pods they own); returns once every agent has applied it. */
    public Changes delete(Desired removed) {
        long start = System.currentTimeMillis();
        try (LabStore.Lock lock = lockRunning()) {
            LabState state = state();
            Desired next = state.desired().delete(removed);
            Changes c = reconcile(state, next, new BringUpTimings());
            awaitAgents(state());
            return c.took(System.currentTimeMillis() - start);
        }
    }

    /**
     * Removes everything the lab made (processes, namespaces, cgroups, pins, state) and nothing else, whatever
     * state it is in (see {@link LabTeardown}). Idempotent: returns false, and changes nothing, if nothing of
     * the lab is left; throws only if something truly cannot be removed, naming it and how to remove it.
     */
    public boolean down() {
        LabTeardown teardown = new LabTeardown(name, store);
        if (!teardown.anythingLeft()) {
            // Without taking the lock: a mistyped `lab down` must not leave a directory behind. The lock file alone
            // (a command killed as it started) goes.
            try {
                Files.deleteIfExists(store.dir().resolve("lock"));
                Files.deleteIfExists(store.dir());
            } catch (IOException ignored) {
                // another command is starting in it
            }
            return false;
        }
        try (LabStore.Lock lock = store.lock()) {
            teardown.run(readable());
        }
        return true;
    }

    /** Written when `up` has finished: a lab without it was left half-made. */
    private Path upDone() {
        return store.dir().resolve("up.done");
    }

    private void markUpDone() {
        try {
            Files.writeString(upDone(), "");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + upDone(), e);
        }
    }

    /** The state, if it can be read: a state file cut short (a killed `lab up`) is no reason not to clean up. */
    private Optional<LabState> readable() {
        try {
            return store.read();
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Removes what the lab made (see {@link LabTeardown}); the state is deleted only once nothing is left. */
    private void teardown(LabState state) {
        new LabTeardown(state.name(), store).run(Optional.of(state));
    }

    // ---- reconciliation

    private Changes reconcile(LabState state, Desired desired, BringUpTimings timings) {
        List<String> created = new ArrayList<>();
        List<String> deleted = new ArrayList<>();
        state = state.withDesired(desired);
        state = allocateClusterIps(state);
        HostsFiles.write(store, state.pods(), desired.services(), state.clusterIps());
        ClusterDns.writeResolvConfs(store, namespaces(state), state.clusterIps());
        store.write(state);

        List<PodState> stale = new ArrayList<>();
        List<PodState> fresh = new ArrayList<>();
        Map<String, DeploymentSpec> deployments = desired.deployments().stream()
                .collect(Collectors.toMap(d -> d.ref().toString(), d -> d, (a, b) -> b, LinkedHashMap::new));
        Map<String, PodSpec> barePods = desired.pods().stream()
                .collect(Collectors.toMap(p -> p.ref().toString(), p -> p, (a, b) -> b, LinkedHashMap::new));

        for (PodState pod : state.pods()) {
            if (pod.owner() != null) {
                DeploymentSpec d = deployments.get(pod.namespace() + "/" + pod.owner());
                if (d == null || !pod.templateHash().equals(PodFactory.templateHash(d.template()))) {
                    stale.add(pod);
                } else {
                    fresh.add(pod);
                }
            } else {
                PodSpec p = barePods.get(pod.key());
                if (p == null) {
                    stale.add(pod);
                } else if (pod.templateHash().equals(PodFactory.templateHash(p.template()))) {
                    fresh.add(pod);
                } else if (pod.templateHash().equals(PodFactory.templateHash(new dev.sluice.model.PodTemplate(pod.labels(),
                        p.template().containers(), p.template().restartPolicy())))) {
                    // Only the labels changed: as the API server, change them on the running pod (its identity and
                    // policies follow) rather than recreate it with a new address.
                    PodState relabeled = relabeled(pod, p.template().labels(), PodFactory.templateHash(p.template()));
                    state = state.replacePod(relabeled);
                    store.write(state);
                    fresh.add(relabeled);
                } else {
                    stale.add(pod);
                }
            }
        }

        // Scale down: the newest surplus pods of each Deployment go first.
        for (DeploymentSpec d : deployments.values()) {
            List<PodState> own = fresh.stream().filter(p -> p.namespace().equals(d.ref().namespace()) && d.ref().name().equals(p.owner()))
                    .sorted(Comparator.comparingLong(PodState::createdEpochMs).reversed()).toList();
            for (int i = 0; i < own.size() - d.replicas(); i++) {
                stale.add(own.get(i));
                fresh.remove(own.get(i));
            }
        }

        // A replaced bare pod keeps its name, so the old one must go first.
        for (PodSpec p : barePods.values()) {
            if (fresh.stream().noneMatch(x -> x.key().equals(p.ref().toString()))) {
                for (PodState old : List.copyOf(stale)) {
                    if (old.key().equals(p.ref().toString())) {
                        pods.remove(old);
                        state = state.removePod(old);
                        stale.remove(old);
                        deleted.add(old.key());
                    }
                }
            }
        }

        // Scale up and roll: new pods are made and ready before stale ones are removed. Each is placed first
        // (NodeCapacity); what fits nowhere stays Pending, counted, and nothing is made for it.
        NodeCapacity capacity = NodeCapacity.of(state);
        List<LabState.PendingPods> pending = new ArrayList<>();
        List<PodFactory.PodPlan> plans = new ArrayList<>();
        for (DeploymentSpec d : deployments.values()) {
            long have = fresh.stream().filter(p -> p.namespace().equals(d.ref().namespace()) && d.ref().name().equals(p.owner())).count();
            String hash = PodFactory.templateHash(d.template());
            for (long i = have; i < d.replicas(); i++) {
                Optional<NodeCapacity.Slot> slot = capacity.place(d.ref().namespace(), d.ref().name(), null);
                if (slot.isEmpty()) {
                    pending.add(new LabState.PendingPods(d.ref().namespace(), d.ref().name(), false, d.replicas() - i, capacity.whyNot(null)));
                    break;
                }
                Map<String, String> labels = new LinkedHashMap<>(d.template().labels());
                labels.put("pod-template-hash", hash);
                plans.add(new PodFactory.PodPlan(d.ref().namespace(), d.ref().name() + "-" + hash + "-" + suffix(), slot.get().node(),
                        slot.get().ip(), d.template(), labels, d.ref().name(), hash,
                        ServiceEnv.of(d.ref().namespace(), desired.services(), state.clusterIps())));
            }
        }
        for (PodSpec p : barePods.values()) {
            if (fresh.stream().noneMatch(x -> x.key().equals(p.ref().toString()))) {
                Optional<NodeCapacity.Slot> slot = capacity.place(p.ref().namespace(), null, p.nodeName());
                if (slot.isEmpty()) {
                    pending.add(new LabState.PendingPods(p.ref().namespace(), p.ref().name(), true, 1, capacity.whyNot(p.nodeName())));
                    continue;
                }
                plans.add(new PodFactory.PodPlan(p.ref().namespace(), p.ref().name(), slot.get().node(), slot.get().ip(), p.template(),
                        p.template().labels(), null, PodFactory.templateHash(p.template()),
                        ServiceEnv.of(p.ref().namespace(), desired.services(), state.clusterIps())));
            }
        }
        for (PodFactory.PodPlan plan : plans) {
            HostsFiles.writePod(store, plan.namespace(), plan.name(), plan.ip(), desired.services(), state.clusterIps());
        }
        // Made together (namespaces and veths in batches, containers a few at a time), recorded in one write: the
        // process journal names every process started meanwhile, so a `lab up` killed here is still cleaned up.
        for (PodFactory.PodPlan plan : plans) {
            progress.accept("starting pod " + plan.namespace() + "/" + plan.name() + " on " + plan.node().name());
        }
        PodFactory.Made batch = pods.createAll(name, plans, Path.of(state.cgroupRoot()), timings);
        List<PodState> made = batch.pods();
        for (PodState pod : made) {
            state = state.addPod(pod);
        }
        writeTimed(state, timings);
        if (batch.failure().isPresent()) {
            throw batch.failure().get();
        }
        state = state.withPending(pending);
        long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
        Map<String, String> notReady = new LinkedHashMap<>();
        for (PodState pod : made) {
            PodTemplate template = LabView.template(state, pod).orElseThrow();
            boolean probed = template.containers().stream().anyMatch(c -> c.readinessProbe() != null);
            progress.accept("waiting for pod " + pod.key() + " to be ready (" + (probed ? "its readiness probe" : "its ports") + ")");
            LabState now = state;
            String why = timings.time(BringUpTimings.Step.READY, () -> pods.awaitReady(pod, now.node(pod.node()).orElseThrow(), template, deadline));
            if (why == null) {
                state = state.replacePod(pod.asReady());
            } else {
                notReady.put(pod.key(), why);
            }
            created.add(pod.key());
        }
        if (!made.isEmpty()) {
            writeTimed(state, timings); // every new pod ready at once: one change for the agents, not one a pod
        }
        // Like Kubernetes' terminating endpoints: a pod leaves every Service before its processes stop,
        // so no new connection is sent to a pod that is going away.
        if (!stale.isEmpty()) {
            for (PodState pod : stale) {
                state = state.replacePod(unready(pod));
            }
            store.write(state);
            // Best effort: a pod that goes away goes away; what an agent could not apply is reported at the end.
            agentsBehind(state);
        }
        for (PodState pod : stale) {
            progress.accept("stopping pod " + pod.key());
            timings.time(BringUpTimings.Step.REMOVE, () -> pods.remove(pod));
            state = state.removePod(pod);
            store.write(state);
            deleted.add(pod.key());
        }
        store.write(state);
        if (!pending.isEmpty() && !stale.isEmpty()) {
            // The pods removed made room: place the Pending ones now (once more; that pass removes nothing).
            Changes more = reconcile(state, desired, timings);
            created.addAll(more.created());
            deleted.addAll(more.deleted());
            notReady.putAll(more.notReady());
            return new Changes(created, deleted, 0, more.pending(), notReady);
        }
        return new Changes(created, deleted, 0, state.pending(), notReady);
    }

    private void writeTimed(LabState state, BringUpTimings timings) {
        timings.time(BringUpTimings.Step.STATE, () -> store.write(state));
    }

    private static PodState unready(PodState p) {
        return new PodState(p.namespace(), p.name(), p.node(), p.ip(), p.netns(), p.hostVeth(), p.cgroup(), p.labels(), p.owner(),
                p.templateHash(), p.containers(), p.createdEpochMs(), false, p.mac());
    }

    /**
     * Waits until every agent has applied the state just written, and fails, naming node, subsystem and
     * reason, if one could not apply it, is not running, or did not answer in time.
     */
    private void awaitAgents(LabState state) {
        progress.accept("waiting for every agent to apply the change");
        List<String> problems = agentsBehind(state);
        if (!problems.isEmpty()) {
            throw new LabException("the change is recorded, but not every agent applied it:\n  " + String.join("\n  ", problems)
                    + "\n(see 'sluice status' and the agent logs in " + store.logs() + ")");
        }
    }

    /** Waits for the agents as {@link #awaitAgents} does; returns what is wrong, nothing if all applied it. */
    private List<String> agentsBehind(LabState state) {
        long written;
        try {
            written = store.version();
        } catch (IOException e) {
            return List.of();
        }
        long deadline = System.currentTimeMillis() + AGENT_SYNC_TIMEOUT_MS;
        List<String> problems = new ArrayList<>();
        for (AgentState agent : state.agents()) {
            while (running(agent) && observedState(agent) < written && System.currentTimeMillis() < deadline) {
                LabProcesses.sleep(10);
            }
            if (!running(agent)) {
                problems.add(agent.node() + ": the agent is not running (its supervisor, pid " + agent.pid() + ", is gone)");
            } else if (observedState(agent) < written) {
                problems.add(agent.node() + ": the agent did not apply it within " + AGENT_SYNC_TIMEOUT_MS / 1000 + " s"
                        + supervision(agent).filter(r -> r.restarts() > 0 || r.agentPid() == 0)
                                .map(r -> " (" + r.restarts() + " restart(s); last exit: "
                                        + (r.lastExit() == null ? "none" : r.lastExit().describe()) + ")").orElse(""));
            } else {
                agentFailures(agent).forEach(f -> problems.add(agent.node() + ": " + f));
            }
        }
        return problems;
    }

    private static long observedState(AgentState agent) {
        return StatusFile.read(Path.of(agent.statusFile())).map(AgentStatus::appliedVersion).orElse(0L);
    }

    /** "Subsystem: reason" for each part of the last state the agent could not apply. */
    private static List<String> agentFailures(AgentState agent) {
        return StatusFile.read(Path.of(agent.statusFile())).map(s -> s.failures().stream()
                .map(f -> f.subsystem() + ": " + f.reason()).toList()).orElse(List.of());
    }

    private static Set<String> namespaces(LabState state) {
        Set<String> ns = new TreeSet<>(state.desired().namespacesUsed());
        ns.add("default");
        ns.add("kube-system");
        return ns;
    }

    private static LabState allocateClusterIps(LabState state) {
        AddressPlan plan = AddressPlan.DEFAULT;
        Map<String, String> ips = new HashMap<>();
        Set<String> taken = new TreeSet<>();
        for (ServiceSpec s : state.desired().services()) {
            String key = s.ref().toString();
            if (s.clusterIP() != null && !s.clusterIP().equals("None")) {
                ips.put(key, s.clusterIP());
            } else if (s.clusterIP() == null && state.clusterIps().containsKey(key)) {
                ips.put(key, state.clusterIps().get(key)); // a Service keeps its address across applies
            }
        }
        taken.addAll(ips.values());
        Ipv4 next = plan.firstServiceIp();
        for (ServiceSpec s : state.desired().services()) {
            String key = s.ref().toString();
            if (s.clusterIP() == null && !ips.containsKey(key)) {
                while (taken.contains(next.toString())) {
                    next = next.plus(1);
                }
                ips.put(key, next.toString());
                taken.add(next.toString());
            }
        }
        return state.withClusterIps(ips);
    }

    private static String suffix() {
        String alphabet = "bcdfghjklmnpqrstvwxz2456789"; // Kubernetes' alphabet for generated names
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            s.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        }
        return s.toString();
    }

    /**
     * Checks what the model cannot: namespaces exist, fixed ClusterIPs are in the Service CIDR and unique,
     * and pinned nodes exist. Nothing is changed when this throws.
     */
    private void validate(Desired desired, LabState state) {
        Set<String> namespaces = new TreeSet<>(Set.of("default", "kube-system"));
        desired.namespaces().forEach(n -> namespaces.add(n.name()));
        for (DeploymentSpec d : desired.deployments()) {
            requireNamespace(namespaces, d.ref().namespace(), d.source() + " (Deployment " + d.ref() + ")");
        }
        for (PodSpec p : desired.pods()) {
            requireNamespace(namespaces, p.ref().namespace(), p.source() + " (Pod " + p.ref() + ")");
            if (p.nodeName() != null && state != null && state.node(p.nodeName()).isEmpty()) {
                throw new LabException(p.source() + " (Pod " + p.ref() + "): field spec.nodeName: no node named '" + p.nodeName()
                        + "' (this lab has " + state.nodes().stream().map(NodeState::name).toList() + ")");
            }
        }
        Map<String, String> fixed = new HashMap<>();
        for (ServiceSpec s : desired.services()) {
            requireNamespace(namespaces, s.ref().namespace(), s.source() + " (Service " + s.ref() + ")");
            if (s.clusterIP() != null && !s.clusterIP().equals("None")) {
                if (!AddressPlan.DEFAULT.inServiceCidr(s.clusterIP())) {
                    throw new LabException(s.source() + " (Service " + s.ref() + "): field spec.clusterIP: " + s.clusterIP()
                            + " is outside the lab's Service CIDR " + AddressPlan.DEFAULT.serviceCidr());
                }
                String other = fixed.put(s.clusterIP(), s.ref().toString());
                if (other != null) {
                    throw new LabException(s.source() + " (Service " + s.ref() + "): field spec.clusterIP: " + s.clusterIP()
                            + " is already Service " + other + "'s");
                }
            }
        }
    }

    private static void requireNamespace(Set<String> namespaces, String ns, String where) {
        if (!namespaces.contains(ns)) {
            throw new LabException(where + ": field metadata.namespace: namespace '" + ns
                    + "' does not exist; add a Namespace manifest for it");
        }
    }

    /** Where a lab's agents pin their BPF maps and links: one directory per node below it. */
    public static Path pinRoot(String lab) {
        return new ClusterLayout(lab, LabStore.of(lab).dir()).pinRoot();
    }

    /** What the lab's agents share: their state directory (status, sockets, identities) and pin root. */
    public ClusterLayout layout() {
        return new ClusterLayout(name, store.dir());
    }

    /** Where the agent of {@code node} keeps its pins, sockets and status. */
    public NodeLayout layout(String node) {
        return layout().node(node);
    }

    // ---- agents

    /**
     * Starts the agent of {@code node} again (after it died or was killed), as a restarted DaemonSet pod
     * would: it adopts the maps and links its predecessor pinned.
     */
    public AgentState restartAgent(String node) {
        try (LabStore.Lock lock = lockRunning()) {
            LabState state = state();
            AgentState old = state.agents().stream().filter(a -> a.node().equals(node)).findFirst()
                    .orElseThrow(() -> new LabException("no agent for node " + node));
            LabProcesses.stop(old.pid(), old.startTicks(), 3_000);
            AgentState started = startAgent(state, state.node(node).orElseThrow());
            List<AgentState> agents = new ArrayList<>(state.agents());
            agents.replaceAll(a -> a.node().equals(node) ? started : a);
            store.write(state.withAgents(agents));
            return started;
        }
    }

    private LabState startAgents(LabState state) {
        List<AgentState> agents = new ArrayList<>();
        for (NodeState node : state.nodes()) {
            agents.add(startAgent(state, node));
        }
        return state.withAgents(agents);
    }

    private AgentState startAgent(LabState state, NodeState node) {
        Path log = store.logs().resolve("agent-" + node.name() + ".log");
        NodeLayout layout = layout(node.name());
        Path supervisorFile = layout.statusFile().resolveSibling(node.name() + ".supervisor.json");
        List<String> agent = AgentLauncher.find().command(new AgentLauncher.Spec("lab", layout, Path.of(node.cgroup()),
                state.valuesFile() == null ? null : Path.of(state.valuesFile())));
        List<String> supervisorArgs = new ArrayList<>(List.of(supervisorFile.toString(), store.dir().resolve("state.json").toString()));
        supervisorArgs.addAll(agent);
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + Path.of("/run/netns", node.netns())));
        cmd.addAll(JavaCommand.of(AgentSupervisor.class.getName(), List.of("-Xmx16m", "-Xss256k"), supervisorArgs));
        try {
            Files.deleteIfExists(supervisorFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + supervisorFile, e);
        }
        LabProcesses.Started started = LabProcesses.start(cmd, Map.of("SLUICE_LAB_ROOT", LabStore.root().toString()), log,
                store.processJournal());
        Path cgroup = Path.of(state.cgroupRoot()).resolve("agents").resolve(node.name());
        Cgroups.create(Cgroups.requireV2Root().relativize(cgroup));
        try {
            // Before the supervisor's JVM starts the agent, which inherits the cgroup.
            Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(started.pid()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move agent supervisor " + started.pid() + " into " + cgroup, e);
        }
        return new AgentState(node.name(), started.pid(), started.startTicks(), log.toString(), layout.statusFile().toString(),
                supervisorFile.toString());
    }

    // ---- kubelets

    private LabState startKubelets(LabState state) {
        List<KubeletState> kubelets = new ArrayList<>();
        for (NodeState node : state.nodes()) {
            kubelets.add(startKubelet(state, node));
        }
        return state.withKubelets(kubelets);
    }

    private KubeletState startKubelet(LabState state, NodeState node) {
        Path log = store.logs().resolve("kubelet-" + node.name() + ".log");
        // In the node's network namespace: probes go from the node to the pod, as the kubelet's do.
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + Path.of("/run/netns", node.netns())));
        cmd.addAll(JavaCommand.of(NodeKubelet.class.getName(), List.of("-Xmx48m", "-Xss512k"), List.of(name, node.name())));
        // In the journal: a `lab up` killed before the state names it still has its kubelets stopped (LabTeardown).
        LabProcesses.Started started = LabProcesses.start(cmd, Map.of("SLUICE_LAB_ROOT", LabStore.root().toString()), log,
                store.processJournal());
        Path cgroup = Path.of(state.cgroupRoot()).resolve("kubelets").resolve(node.name());
        Cgroups.create(Cgroups.requireV2Root().relativize(cgroup));
        try {
            Files.writeString(cgroup.resolve("cgroup.procs"), Long.toString(started.pid()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move kubelet " + started.pid() + " into " + cgroup, e);
        }
        return new KubeletState(node.name(), started.pid(), started.startTicks(), log.toString());
    }

    // ---- nodes joining and leaving a running lab (`lab node add|remove`; helpers in LabNodes)

    /**
     * Adds a node to the running lab as `lab up` makes one: its namespace on the fabric, the next address and pod
     * /24 of the address plan, its cgroup, agent and kubelet; then writes the state, so every agent routes to it and
     * peers with it, and returns once every agent applied that. Pods Pending for want of room are placed on it.
     *
     * @param requested its name, or null for {@code node-N} (N its index)
     */
    public NodeState addNode(String requested) {
        try (LabStore.Lock lock = lockRunning()) {
            LabState state = state();
            int index = LabNodes.nextIndex(state);
            String nodeName = requested == null ? "node-" + index : requested;
            LabNodes.checkNew(state, nodeName, index);
            AddressPlan plan = AddressPlan.DEFAULT;
            NodeState node = new NodeState(nodeName, index, LabNetwork.netnsPrefix(name) + nodeName, plan.nodeAddress(index),
                    plan.podCidr(index), Path.of(state.cgroupRoot()).resolve(nodeName).toString(), state.nodes().getFirst().maxPods());
            List<NodeState> nodes = new ArrayList<>(state.nodes());
            nodes.add(node);
            LabState joined = state.withNodes(nodes);
            try {
                progress.accept("creating node " + nodeName + " (" + node.address() + ", pods " + node.podCidr() + ")");
                LabNetwork.createNode(name, node);
                Cgroups.create(Cgroups.requireV2Root().relativize(Path.of(node.cgroup())));
                // Recorded before its agent starts, as at `up`: the agent finds its node in the state it reads.
                store.write(joined);
                progress.accept("starting its agent and kubelet");
                List<AgentState> agents = new ArrayList<>(state.agents());
                agents.add(startAgent(joined, node));
                joined = joined.withAgents(agents);
                List<KubeletState> kubelets = new ArrayList<>(state.kubelets());
                kubelets.add(startKubelet(joined, node));
                joined = joined.withKubelets(kubelets);
            } catch (RuntimeException e) {
                stopNodeProcesses(joined, nodeName);
                try {
                    store.write(state); // the lab as it was
                    LabNodes.dismantle(store, joined, node, layout(nodeName));
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            store.write(joined);
            awaitAgents(state());
            if (!joined.pending().isEmpty()) {
                reconcile(state(), joined.desired(), new BringUpTimings()); // the new node has room for what was Pending
                awaitAgents(state());
            }
            return node;
        }
    }

    /**
     * Removes a node from the running lab, as {@code kubectl drain} and deleting the node would: its pods leave every
     * Service first, then stop; a Deployment's are made again on the other nodes, a bare pod is deleted (nothing
     * would make it again). Then its kubelet and agent are stopped by PID, and its namespace, cgroups and pins
     * removed; the state without it makes every other agent drop its routes and WireGuard peer. Returns once every
     * agent applied that.
     */
    public Changes removeNode(String nodeName) {
        long start = System.currentTimeMillis();
        try (LabStore.Lock lock = lockRunning()) {
            LabState state = state();
            NodeState node = LabNodes.existing(state, nodeName);
            if (state.nodes().size() == 1) {
                throw new LabException("node " + nodeName + " is the last node of lab '" + name
                        + "': a lab needs one (remove the whole lab with 'sluice lab down')");
            }
            List<PodState> evicted = state.pods().stream().filter(p -> p.node().equals(nodeName)).toList();
            List<String> deleted = new ArrayList<>();
            // Bare pods of the node, and bare pods pinned to it, go for good: drained, no controller makes them again.
            List<PodSpec> gone = state.desired().pods().stream().filter(p -> nodeName.equals(p.nodeName())
                    || evicted.stream().anyMatch(e -> e.owner() == null && e.key().equals(p.ref().toString()))).toList();
            state = state.withDesired(state.desired().delete(new Desired(List.of(), List.of(), gone, List.of(), List.of())));
            if (!evicted.isEmpty()) {
                for (PodState pod : evicted) {
                    state = state.replacePod(unready(pod));
                }
                store.write(state);
                agentsBehind(state); // as in reconcile: out of every Service before the processes stop
                for (PodState pod : evicted) {
                    progress.accept("evicting pod " + pod.key());
                    pods.remove(pod);
                    state = state.removePod(pod);
                    store.write(state);
                    deleted.add(pod.key());
                }
            }
            progress.accept("stopping the kubelet and agent of " + nodeName);
            stopNodeProcesses(state, nodeName);
            LabState left = state.withNodes(state.nodes().stream().filter(n -> !n.name().equals(nodeName)).toList())
                    .withAgents(state.agents().stream().filter(a -> !a.node().equals(nodeName)).toList())
                    .withKubelets(state.kubelets().stream().filter(k -> !k.node().equals(nodeName)).toList());
            store.write(left);
            progress.accept("removing " + nodeName + "'s namespace, cgroups and pins");
            LabNodes.dismantle(store, left, node, layout(nodeName));
            Changes made = reconcile(state(), left.desired(), new BringUpTimings()); // the Deployments' pods, on the other nodes
            awaitAgents(state());
            deleted.addAll(made.deleted());
            return new Changes(made.created(), deleted, System.currentTimeMillis() - start, made.pending(), made.notReady());
        }
    }

    /** The node's kubelet first (it would start containers again), then its agent's supervisor; each by PID and start time. */
    private static void stopNodeProcesses(LabState state, String nodeName) {
        state.kubelets().stream().filter(k -> k.node().equals(nodeName)).forEach(k -> LabProcesses.stop(k.pid(), k.startTicks(), 3_000));
        state.agents().stream().filter(a -> a.node().equals(nodeName)).forEach(a -> LabProcesses.stop(a.pid(), a.startTicks(), 3_000));
    }

    /** The lab's Hubble Relay, when its values asked for one ({@code hubble.relay.enabled}). */
    public Optional<HubbleRelay.Status> relay() {
        return HubbleRelay.status(store);
    }

    /** The pod's events (the kubelet's probes, restarts and back-offs), oldest first. */
    public List<PodEvents.Event> events(PodState pod) {
        return PodEvents.of(store, pod.key());
    }

    /** What the pod's node's kubelet last found of its containers' probes (empty before it reported). */
    public Map<String, String> lastProbeFailures(PodState pod) {
        Map<String, String> out = new LinkedHashMap<>();
        KubeletReport.read(store.kubeletReport(pod.node())).ifPresent(r -> r.pods().getOrDefault(pod.key(), List.of())
                .forEach(p -> out.put(p.container(), p.lastFailure())));
        return out;
    }

    /** The pod's template, from its Deployment's or its own manifest. */
    public Optional<PodTemplate> template(PodState pod) {
        return LabView.template(state(), pod);
    }

    /** How this machine puts resources.limits in force (cgroup v2, v1 on a hybrid machine, or not at all). */
    public static String limitsMechanism() {
        return PodLimits.mechanism();
    }

    /** What the supervisor of {@code agent} last recorded: the agent's PID, its restarts and how it last exited. */
    public static Optional<AgentSupervisor.Record> supervision(AgentState agent) {
        return agent.supervisorFile() == null ? Optional.empty() : AgentSupervisor.read(Path.of(agent.supervisorFile()));
    }

    private String copyValues(Path valuesFile) {
        if (valuesFile == null) {
            return null;
        }
        try {
            Path target = store.dir().resolve("values.yaml");
            Files.createDirectories(target.getParent());
            Files.copy(valuesFile, target, StandardCopyOption.REPLACE_EXISTING);
            return target.toString();
        } catch (IOException e) {
            throw new LabException("cannot read values file " + valuesFile + ": " + e.getMessage());
        }
    }

    // ---- queries and pod access

    /** The cluster view the agents are given of the lab as it is now (pods with labels, ports, addresses; objects). */
    public dev.sluice.model.cluster.ClusterView view() {
        return LabView.of(state());
    }

    /**
     * Finds a pod by {@code name}, {@code ns/name}, {@code deploy/NAME} or {@code ns/deploy/NAME} (the first
     * pod of that Deployment), or a unique name prefix.
     */
    public PodState pod(String selector) {
        LabState state = state();
        String ns = "default";
        String rest = selector;
        String[] parts = selector.split("/");
        if (parts.length == 3 && parts[1].equals("deploy")) {
            ns = parts[0];
            rest = "deploy/" + parts[2];
        } else if (parts.length == 2 && !parts[0].equals("deploy")) {
            ns = parts[0];
            rest = parts[1];
        }
        String namespace = ns;
        if (rest.startsWith("deploy/")) {
            String deploy = rest.substring("deploy/".length());
            return state.pods().stream().filter(p -> p.namespace().equals(namespace) && deploy.equals(p.owner()))
                    .min(Comparator.comparing(PodState::name))
                    .orElseThrow(() -> new LabException("no pod of Deployment " + namespace + "/" + deploy));
        }
        String podName = rest;
        Optional<PodState> exact = state.pod(namespace, podName);
        if (exact.isPresent()) {
            return exact.get();
        }
        List<PodState> prefixed = state.pods().stream().filter(p -> p.namespace().equals(namespace) && p.name().startsWith(podName)).toList();
        if (prefixed.size() == 1) {
            return prefixed.getFirst();
        }
        throw new LabException(prefixed.isEmpty() ? "no pod " + namespace + "/" + podName
                : "'" + selector + "' matches " + prefixed.size() + " pods: " + prefixed.stream().map(PodState::name).toList());
    }

    /** Runs a command inside a pod (its network namespace, cgroup and /etc/hosts), attached to this terminal. */
    public int exec(String selector, List<String> command) {
        PodState pod = pod(selector);
        List<String> cmd = pods.inPod(pod, containerSpec(pod, pod.containers().getFirst().name()), command);
        try {
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            return p.waitFor();
        } catch (IOException e) {
            throw new LabException("cannot run " + command + " in pod " + pod.key() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    /** Runs a command inside a pod and returns its output (for tests and the demo). */
    public dev.sluice.linux.Command.Result execCapture(String selector, List<String> command) {
        PodState pod = pod(selector);
        List<String> cmd = pods.inPod(pod, containerSpec(pod, pod.containers().getFirst().name()), command);
        return dev.sluice.linux.Command.exec(cmd);
    }

    /** Starts a command inside a pod without waiting for it (stdout and stderr captured together). */
    public Process execAsync(String selector, List<String> command) {
        PodState pod = pod(selector);
        List<String> cmd = pods.inPod(pod, containerSpec(pod, pod.containers().getFirst().name()), command);
        try {
            return new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new LabException("cannot run " + command + " in pod " + pod.key() + ": " + e.getMessage());
        }
    }

    /** The spec of a container of the pod, from its Deployment's or its own template (null if it is gone). */
    ContainerSpec containerSpec(PodState pod, String container) {
        return LabView.template(state(), pod).flatMap(t -> t.containers().stream().filter(c -> c.name().equals(container)).findFirst())
                .orElse(null);
    }

    /** The pod's container logs, in container order. */
    public List<Path> logs(String selector) {
        return pod(selector).containers().stream().map(c -> Path.of(c.log())).toList();
    }

    /**
     * Each node's echo host ({@link EchoHost}) that was started: true if it runs. A host that died leaves its pods
     * running but not answering: `sluice status` shows it.
     */
    public Map<String, Boolean> echoHosts() {
        Map<String, Boolean> hosts = new java.util.TreeMap<>();
        for (NodeState n : state().nodes()) {
            if (Files.exists(store.dir().resolve("echo").resolve(n.name() + ".pid"))) {
                hosts.put(n.name(), pods.echoHost(n.name()).isPresent());
            }
        }
        return hosts;
    }

    /** Whether each container of the pod is still running. */
    public static boolean running(PodState pod) {
        return pod.containers().stream().allMatch(c -> LabProcesses.alive(c.pid(), c.startTicks()));
    }

    public static boolean running(AgentState agent) {
        return LabProcesses.alive(agent.pid(), agent.startTicks());
    }

    public static boolean running(KubeletState kubelet) {
        return LabProcesses.alive(kubelet.pid(), kubelet.startTicks());
    }


}
