package dev.sluice.agent.cni;

import dev.sluice.cni.AgentMessages.Endpoint;
import dev.sluice.model.cluster.ClusterChange;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterSource;
import dev.sluice.model.cluster.ClusterView;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The agent's cluster source with the node's CNI endpoints in it: the source's view, plus a pod for each endpoint the
 * plugin registered (or, for a pod the source knows, the source's pod with the endpoint's address, veth and MAC), so
 * the subsystems attach a CNI pod's programs exactly as a lab pod's. After the source, one code path.
 *
 * <p>The source is read on a thread of its own and its changes queued, with the plugin's registrations, for
 * {@link #next}: a registration is a change at once, without polling the source. A change made for a
 * registration keeps the source's version (the one {@code lab apply} waits for). {@link #applied} (the agent's
 * report after each step) completes the registrations the applied change carries, which the plugin waits for.
 */
final class CniSource implements ClusterSource {
    /** How long the source's thread waits in it at a time (its own heartbeat). */
    private static final long READ_MS = 2_000;

    private final ClusterSource source;
    private final String node;
    private final Ipam ipam;
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final Thread reader;
    private volatile boolean closed;
    private volatile Set<String> sourceIps = Set.of();

    // Only the agent's thread (next) touches these.
    private ClusterView sourceView;
    private long sourceVersion;
    private Map<String, ClusterView.Pod> lastPods = Map.of();

    // Registrations waiting for the agent to apply the change that carries them.
    private final Object lock = new Object();
    private final Map<ClusterChange, Long> emitted = new IdentityHashMap<>();
    private final List<Waiting> waiting = new ArrayList<>();
    private long emittedSeq;
    private long appliedSeq;

    private record Wake(CompletableFuture<Void> done) {
    }

    private record Waiting(long seq, CompletableFuture<Void> done) {
    }

    private record Failed(RuntimeException error) {
    }

    CniSource(ClusterSource source, String node, Ipam ipam) {
        this.source = source;
        this.node = node;
        this.ipam = ipam;
        this.reader = Thread.ofPlatform().daemon().name("cluster-source").start(this::read);
    }

    private void read() {
        while (!closed) {
            try {
                source.next(READ_MS).ifPresent(queue::add);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                if (!closed) {
                    queue.add(new Failed(e));
                }
                return;
            }
        }
    }

    /** Addresses pods of the source (not the plugin's) hold: the IPAM skips them. */
    Set<String> sourceIps() {
        return sourceIps;
    }

    /** The endpoints changed: a change for the agent, and a future completed once it applied it. */
    CompletableFuture<Void> endpointsChanged() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        queue.add(new Wake(done));
        return done;
    }

    @Override
    public Optional<ClusterChange> next(long timeoutMs) throws InterruptedException {
        Object item = queue.poll(timeoutMs, TimeUnit.MILLISECONDS);
        if (item == null) {
            return Optional.empty();
        }
        ClusterChange fromSource = null;
        List<CompletableFuture<Void>> wakes = new ArrayList<>();
        switch (item) {
            case ClusterChange c -> fromSource = c;
            case Wake w -> wakes.add(w.done());
            case Failed f -> throw f.error();
            default -> throw new IllegalStateException("unexpected " + item);
        }
        // Registrations that came meanwhile ride on this change too.
        while (queue.peek() instanceof Wake w) {
            queue.poll();
            wakes.add(w.done());
        }
        if (fromSource != null) {
            sourceView = fromSource.view();
            sourceVersion = fromSource.version();
            ipam.podCidr(sourceView.node(node).map(ClusterView.Node::podCidr).orElse(null));
        }
        if (sourceView == null) {
            // Nothing to add endpoints to before the source's first change, which will carry them all.
            wakes.forEach(this::completeLater);
            return Optional.empty();
        }
        ClusterView view = merge(sourceView, ipam.registered());
        Map<String, ClusterView.Pod> pods = new LinkedHashMap<>();
        view.pods().forEach(p -> pods.put(p.key(), p));
        List<ClusterEvent> events = new ArrayList<>();
        if (fromSource != null) {
            fromSource.events().stream().filter(e -> !isPod(e)).forEach(events::add);
        }
        // Pod events from what differs, since a source's pod and the endpoint on it are one pod here.
        pods.forEach((k, p) -> {
            if (!p.equals(lastPods.get(k))) {
                events.add(new ClusterEvent.Upserted(Kind.POD, k));
            }
        });
        lastPods.keySet().stream().filter(k -> !pods.containsKey(k)).forEach(k -> events.add(new ClusterEvent.Deleted(Kind.POD, k)));
        lastPods = pods;
        if (events.isEmpty() && fromSource == null) {
            wakes.forEach(this::completeLater);
            return Optional.empty();
        }
        ClusterChange change = new ClusterChange(sourceVersion, events, view,
                fromSource != null ? fromSource.receivedNanos() : System.nanoTime());
        synchronized (lock) {
            long seq = ++emittedSeq;
            emitted.put(change, seq);
            wakes.forEach(w -> waiting.add(new Waiting(seq, w)));
        }
        return Optional.of(change);
    }

    /** With nothing new to apply: done once the last change handed out is applied (perhaps already). */
    private void completeLater(CompletableFuture<Void> done) {
        synchronized (lock) {
            if (appliedSeq >= emittedSeq) {
                done.complete(null);
            } else {
                waiting.add(new Waiting(emittedSeq, done));
            }
        }
    }

    /** The agent applied {@code change} (called with every report): the registrations it carried are done. */
    void applied(ClusterChange change) {
        if (change == null) {
            return;
        }
        synchronized (lock) {
            Long seq = emitted.get(change);
            if (seq == null || seq <= appliedSeq) {
                return;
            }
            appliedSeq = seq;
            emitted.values().removeIf(s -> s <= appliedSeq - 1);
            waiting.removeIf(w -> {
                if (w.seq() <= appliedSeq) {
                    w.done().complete(null);
                    return true;
                }
                return false;
            });
        }
    }

    private static boolean isPod(ClusterEvent e) {
        return e instanceof ClusterEvent.Upserted u && u.kind() == Kind.POD || e instanceof ClusterEvent.Deleted d && d.kind() == Kind.POD;
    }

    /** The source's view with the endpoints: a source's pod of the same name takes the endpoint's network, others are added. */
    ClusterView merge(ClusterView view, List<Endpoint> endpoints) {
        Map<String, Endpoint> byKey = new HashMap<>();
        endpoints.forEach(e -> byKey.put(e.namespace() + "/" + e.pod(), e));
        List<ClusterView.Pod> pods = new ArrayList<>();
        Set<String> ips = new HashSet<>();
        for (ClusterView.Pod p : view.pods()) {
            Endpoint e = byKey.remove(p.key());
            if (e == null) {
                pods.add(p);
                if (!p.ip().isEmpty()) {
                    ips.add(p.ip());
                }
            } else {
                pods.add(new ClusterView.Pod(p.namespace(), p.name(), node, e.ip(), e.hostVeth(), p.cgroup(), p.labels(), p.ports(),
                        p.running(), p.ready(), p.owner(), e.mac()));
            }
        }
        sourceIps = Set.copyOf(ips);
        for (Endpoint e : endpoints) {
            if (byKey.containsKey(e.namespace() + "/" + e.pod())) {
                // Known to the plugin only: its labels from the network configuration's args.cni.labels.
                pods.add(new ClusterView.Pod(e.namespace(), e.pod(), node, e.ip(), e.hostVeth(), "", e.labels(), List.of(), true, true,
                        "", e.mac()));
            }
        }
        return new ClusterView(view.nodes(), view.namespaces(), pods, view.services(), view.clusterIps(), view.objects());
    }

    /** The wrapped source's health (a Kubernetes API server out of reach), which status shows. */
    @Override
    public Optional<String> degraded() {
        return source.degraded();
    }

    /** The wrapped source's node is this agent's: what it publishes (a WireGuard key) goes there. */
    @Override
    public boolean annotateNode(String key, String value) {
        return source.annotateNode(key, value);
    }

    @Override
    public void close() {
        closed = true;
        reader.interrupt();
        source.close();
    }
}
