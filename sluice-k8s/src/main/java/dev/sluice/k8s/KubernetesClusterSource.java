package dev.sluice.k8s;

import dev.sluice.k8s.ClusterState.Observed;
import dev.sluice.k8s.ClusterState.Watched;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterDiff;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

import java.net.HttpURLConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Supplier;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A Kubernetes cluster as a cluster source: one fabric8 informer per kind the agent reads (Nodes,
 * Namespaces, Pods, Services, EndpointSlices, and the policies, L7 configuration and routes as generic
 * resources), whose events are handed to the agent's thread over a queue and applied to the
 * {@link ClusterState} held here; each change is the events between the view delivered last and the new one
 * ({@link ClusterDiff}), so an update that changes nothing the agent reads is no event at all.
 *
 * <p>The informers do what survives a flaky API server: a watch that ends is re-opened from the last
 * resourceVersion, a 410 Gone makes them list again (their store reports what changed meanwhile as adds,
 * updates and deletes), and an unreachable server is retried with back-off, forever. Meanwhile the state held
 * here stays as it was, this source delivers nothing, and the datapath keeps what it was given;
 * {@link #degraded()} says why.
 */
public final class KubernetesClusterSource implements ClusterSource {
    private final KubernetesClient client;
    private final boolean ownsClient;
    /** The node whose agent reads this source: the Node object {@link #annotateNode} patches; null for other readers. */
    private final String node;
    /** Why the last {@link #annotateNode} could not be done, for messages; null after one that was. */
    private volatile String annotateError;
    private final List<Informed<?>> informers = new ArrayList<>();
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    private final BlockingQueue<Observed> queue = new LinkedBlockingQueue<>();
    private final ClusterState state = new ClusterState();
    /** The default stall limit: a watch down for longer is replaced (fabric8 retries a watch itself first). */
    public static final Duration DEFAULT_STALL = Duration.ofSeconds(30);
    /** How often the informers are looked at while nothing arrives. */
    private static final long SUPERVISE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private final long stallNanos;
    private ClusterView delivered;
    private long version;

    /**
     * One kind's informer, and what its last failure was. It is replaced by a new one when its watch has been
     * down for longer than the stall limit: a fresh informer lists again, and what its list lacks is deleted
     * ({@link #supervise}), so a watch that never comes back (or comes back past a gap the server does not
     * replay) loses nothing either.
     */
    private final class Informed<T extends HasMetadata> {
        final String kind;
        final Watched watched;
        final Supplier<SharedIndexInformer<T>> factory;
        volatile SharedIndexInformer<T> informer;
        volatile String lastError;
        /** The API server does not serve the kind (its CRD is not installed): it counts as listed, with nothing in it. */
        volatile boolean notServed;
        long downSince;
        boolean reconcile;
        int restarts;

        Informed(String kind, Watched watched, Supplier<SharedIndexInformer<T>> factory) {
            this.kind = kind;
            this.watched = watched;
            this.factory = factory;
        }

        boolean listed() {
            return informer.hasSynced() || notServed;
        }

        void start() {
            SharedIndexInformer<T> informer = factory.get();
            informer.addEventHandler(new ResourceEventHandler<T>() {
                @Override
                public void onAdd(T o) {
                    queue.add(Observed.upserted(watched, KubeObjects.key(o), o));
                }

                @Override
                public void onUpdate(T old, T o) {
                    queue.add(Observed.upserted(watched, KubeObjects.key(o), o));
                }

                @Override
                public void onDelete(T o, boolean finalStateUnknown) {
                    queue.add(Observed.deleted(watched, KubeObjects.key(o), o));
                }
            });
            // Never give up: an API server that is down now (or restarting) is there again later, and the
            // informer then lists and watches anew from where it was.
            informer.exceptionHandler((started, t) -> {
                lastError = message(t);
                if (t instanceof KubernetesClientException k && k.getCode() == HttpURLConnection.HTTP_NOT_FOUND) {
                    notServed = true;
                }
                return true;
            });
            this.informer = informer;
            informer.start();
        }

        /** Replaces a stalled informer; the new one's first list is reconciled with the state held. */
        void restart() {
            informer.stop();
            restarts++;
            reconcile = true;
            downSince = 0;
            start();
        }

        String describe() {
            return kind + (informer.hasSynced() ? " listed" : " not listed") + (informer.isWatching() ? ", watching" : ", not watching")
                    + (notServed ? ", not served" : "") + (lastError == null ? "" : ", last error " + lastError)
                    + (restarts == 0 ? "" : ", restarted " + restarts + " time(s)");
        }
    }

    /** Registered as the source named "kubernetes" (META-INF/services): the cluster of the kubeconfig, or the one the agent runs in. */
    public static final class Provider implements ClusterSource.Provider {
        @Override
        public String name() {
            return "kubernetes";
        }

        @Override
        public ClusterSource open(String cluster, String node) {
            return new KubernetesClusterSource(new KubernetesClientBuilder().build(), true, node, DEFAULT_STALL);
        }
    }

    /** A source on {@code client}, which stays the caller's to close. */
    public KubernetesClusterSource(KubernetesClient client) {
        this(client, false, null, DEFAULT_STALL);
    }

    /** A source on {@code client} (the caller's to close) for the agent of {@code node}, which it may annotate. */
    public KubernetesClusterSource(KubernetesClient client, String node) {
        this(client, false, node, DEFAULT_STALL);
    }

    /** @param stall how long a kind's watch may be down before its informer is replaced by a new one */
    public KubernetesClusterSource(KubernetesClient client, Duration stall) {
        this(client, false, null, stall);
    }

    private KubernetesClusterSource(KubernetesClient client, boolean ownsClient, String node, Duration stall) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.node = node;
        this.stallNanos = stall.toNanos();
        watch("Node", new Watched.Nodes(), () -> client.nodes().runnableInformer(0));
        watch("Namespace", new Watched.Namespaces(), () -> client.namespaces().runnableInformer(0));
        watch("Pod", new Watched.Pods(), () -> client.pods().inAnyNamespace().runnableInformer(0));
        watch("Service", new Watched.Services(), () -> client.services().inAnyNamespace().runnableInformer(0));
        watch("EndpointSlice", new Watched.EndpointSlices(),
                () -> client.discovery().v1().endpointSlices().inAnyNamespace().runnableInformer(0));
        for (WatchedKind kind : WatchedKind.OTHERS) {
            watch(kind.kind(), new Watched.Other(kind),
                    () -> client.genericKubernetesResources(kind.context()).inAnyNamespace().runnableInformer(0));
        }
    }

    private <T extends HasMetadata> void watch(String kind, Watched watched, Supplier<SharedIndexInformer<T>> factory) {
        Informed<T> informed = new Informed<>(kind, watched, factory);
        informers.add(informed);
        informed.start();
    }

    /**
     * Replaces the informers whose watch has been down for longer than the stall limit, and once a replaced
     * one has listed, deletes what the state holds of its kind and its list lacks (deleted while no watch ran).
     */
    private void supervise() {
        long now = System.nanoTime();
        for (Informed<?> i : informers) {
            if (i.reconcile && i.informer.hasSynced()) {
                i.reconcile = false;
                adoptStore(i);
            }
            if (i.notServed || i.informer.isWatching()) {
                i.downSince = 0;
            } else if (i.downSince == 0) {
                i.downSince = now;
            } else if (now - i.downSince > stallNanos) {
                i.restart();
            }
        }
    }

    /**
     * Makes the state hold of {@code i}'s kind exactly what its informer's store holds: what the store has is
     * upserted, what it lacks deleted. The store is complete once the informer has listed, while its handlers
     * are told later, on another thread; the notifications still to come are no newer than the store
     * ({@link ClusterState} ignores an object older than the one it holds).
     */
    private <T extends HasMetadata> void adoptStore(Informed<T> i) {
        Set<String> listed = new HashSet<>();
        for (T o : i.informer.getStore().list()) {
            String key = KubeObjects.key(o);
            listed.add(key);
            state.apply(Observed.upserted(i.watched, key, o));
        }
        for (String key : state.keys(i.watched)) {
            if (!listed.contains(key)) {
                state.apply(Observed.deleted(i.watched, key, null));
            }
        }
    }

    @Override
    public Optional<ClusterChange> next(long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        if (delivered == null) {
            // The first change is the whole cluster: only once every kind has been listed.
            while (!informers.stream().allMatch(Informed::listed)) {
                supervise();
                if (System.nanoTime() >= deadline) {
                    return Optional.empty();
                }
                Thread.sleep(20);
            }
            supervise();
            long received = System.nanoTime();
            drain();
            informers.forEach(this::adoptStore);
            ClusterView view = state.view();
            List<ClusterEvent> events = new ArrayList<>(ClusterDiff.between(ClusterView.empty(), view));
            events.add(new ClusterEvent.Synced());
            delivered = view;
            return Optional.of(new ClusterChange(++version, events, view, received));
        }
        while (true) {
            supervise();
            long left = deadline - System.nanoTime();
            Observed first = queue.poll(Math.max(0, Math.min(left, SUPERVISE_NANOS)), TimeUnit.NANOSECONDS);
            long received = System.nanoTime();
            if (first != null) {
                state.apply(first);
            }
            drain();
            supervise(); // a replaced informer's list may be due for reconciliation
            ClusterView view = state.view();
            if (view != delivered) {
                List<ClusterEvent> events = ClusterDiff.between(delivered, view);
                delivered = view;
                if (!events.isEmpty()) {
                    return Optional.of(new ClusterChange(++version, events, view, received));
                }
                // Only fields the view does not hold changed (a pod's status timestamps, a resync): wait on.
            }
            if (received >= deadline) {
                return Optional.empty();
            }
        }
    }

    private void drain() {
        Observed o;
        while ((o = queue.poll()) != null) {
            state.apply(o);
        }
    }

    /**
     * Why the source is not following the cluster now, naming the kinds whose watch is down and the last
     * error; empty while every kind is watched. A kind whose CRD is not installed is no problem.
     */
    @Override
    public Optional<String> degraded() {
        List<Informed<?>> down = informers.stream().filter(i -> !i.notServed && !i.informer.isWatching()).toList();
        if (down.isEmpty()) {
            return Optional.empty();
        }
        String error = down.stream().map(i -> i.lastError).filter(e -> e != null).findFirst().orElse("no watch open");
        return Optional.of("API server " + client.getMasterUrl() + ": not watching "
                + (down.size() == informers.size() ? "any kind" : String.join(", ", down.stream().map(i -> i.kind).toList()))
                + " (" + error + "); the view of the last change stays in force");
    }

    /** Each kind's informer as it is now: listed, watching, last error, restarts (for status and tests). */
    public List<String> describe() {
        return informers.stream().map(Informed::describe).toList();
    }

    /** The kinds the API server does not serve (their CRDs are not installed), for status. */
    public List<String> notServed() {
        return informers.stream().filter(i -> i.notServed && !i.informer.hasSynced()).map(i -> i.kind).toList();
    }

    /**
     * Sets (or, with an empty value, removes) the annotation {@code key} on this agent's own Node object with a JSON
     * merge patch of its {@code metadata.annotations}: only that key is written, so what kubelet and other agents
     * write to the Node meanwhile is kept, with no read-modify-write race. Every agent's Node informer then
     * delivers it as a node update ({@link KubeObjects#sluiceAnnotations}). An API server that is unreachable or
     * refuses (the Node not registered yet, RBAC) is "not now": false, and the caller retries with a later change.
     */
    @Override
    public boolean annotateNode(String key, String value) {
        if (node == null || node.isBlank()) {
            throw new UnsupportedOperationException("this Kubernetes source reads the cluster for no node");
        }
        if (!key.startsWith(KubeObjects.ANNOTATION_PREFIX)) {
            // The view holds only these (KubeObjects#sluiceAnnotations): any other would be written and never read back.
            throw new IllegalArgumentException("node annotation " + key + " is not under " + KubeObjects.ANNOTATION_PREFIX);
        }
        var annotations = new java.util.HashMap<String, Object>();
        annotations.put(key, value == null || value.isEmpty() ? null : value); // null: JSON merge patch's delete
        String patch;
        try {
            patch = JSON.writeValueAsString(java.util.Map.of("metadata", java.util.Map.of("annotations", annotations)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        try {
            client.nodes().withName(node).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
            annotateError = null;
            return true;
        } catch (KubernetesClientException e) {
            annotateError = "annotating node " + node + " with " + key + ": " + message(e);
            return false;
        }
    }

    /** Why the last {@link #annotateNode} failed, or empty. */
    public Optional<String> annotateError() {
        return Optional.ofNullable(annotateError);
    }

    private static String message(Throwable t) {
        Throwable cause = t;
        while (cause.getCause() != null && (cause.getMessage() == null || cause.getMessage().isBlank())) {
            cause = cause.getCause();
        }
        return cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
    }

    @Override
    public void close() {
        informers.forEach(i -> i.informer.stop());
        if (ownsClient) {
            client.close();
        }
    }
}
