package dev.sluice.k8s;

import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.OtherObject;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.cluster.ClusterDiff;
import dev.sluice.model.cluster.ClusterView;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The cluster as the informers last reported it, object by object, and the view made of it. Only the
 * source's own thread changes it (the informers' threads hand their events over a queue), so it needs no lock.
 */
final class ClusterState {
    private final Map<String, ClusterView.Node> nodes = new TreeMap<>();
    private final Map<String, NamespaceSpec> namespaces = new TreeMap<>();
    private final Map<String, Pod> pods = new TreeMap<>();
    private final Map<String, ServiceSpec> services = new TreeMap<>();
    private final Map<String, String> clusterIps = new TreeMap<>();
    private final Map<String, OtherObject> others = new TreeMap<>();
    /** Per EndpointSlice, the pods it lists ({@code namespace/name}) and whether it calls each ready. */
    private final Map<String, Map<String, Boolean>> slices = new HashMap<>();
    private ClusterView view = ClusterView.empty();
    /** The resourceVersion of each object held (-1 when not a number), by kind and key. */
    private final Map<String, Long> versions = new HashMap<>();
    private boolean stale;

    /**
     * One informer event: the object added or updated, or, when {@code deleted}, the last version of the one
     * deleted ({@code object} null when a reconciliation found it gone).
     */
    record Observed(Watched watched, String key, HasMetadata object, boolean deleted) {
        static Observed upserted(Watched watched, String key, HasMetadata object) {
            return new Observed(watched, key, object, false);
        }

        static Observed deleted(Watched watched, String key, HasMetadata last) {
            return new Observed(watched, key, last, true);
        }
    }

    /** What an event is about: a kind the view models, or one of the other kinds kept whole. */
    sealed interface Watched {
        record Nodes() implements Watched { }
        record Namespaces() implements Watched { }
        record Pods() implements Watched { }
        record Services() implements Watched { }
        record EndpointSlices() implements Watched { }
        record Other(WatchedKind kind) implements Watched { }
    }

    /**
     * Applies one event; an object older than the version held of it (by resourceVersion, where both are
     * numbers, as every API server backed by etcd gives them) is ignored: a notification an informer delivers
     * after its store was adopted.
     */
    void apply(Observed o) {
        String versionKey = o.watched() + " " + o.key();
        long version = o.object() == null ? -1 : resourceVersion(o.object());
        Long held = versions.get(versionKey);
        if (version >= 0 && held != null && held >= 0 && version < held) {
            return; // older than what is held (a delete of an object since made again, included)
        }
        HasMetadata object = o.deleted() ? null : o.object();
        if (object == null) {
            versions.remove(versionKey);
        } else {
            versions.put(versionKey, version);
        }
        stale = true;
        switch (o.watched()) {
            case Watched.Nodes n -> put(nodes, o.key(), object == null ? null : KubeObjects.node((Node) object));
            case Watched.Namespaces n -> put(namespaces, o.key(), object == null ? null : KubeObjects.namespace((Namespace) object));
            case Watched.Pods p -> put(pods, o.key(), (Pod) object);
            case Watched.Services s -> {
                ServiceSpec spec = object == null ? null : KubeObjects.service((Service) object);
                put(services, o.key(), spec);
                put(clusterIps, o.key(), spec == null || spec.clusterIP() == null || spec.headless() ? null : spec.clusterIP());
            }
            case Watched.EndpointSlices e -> put(slices, o.key(), object == null ? null : listed((EndpointSlice) object));
            case Watched.Other other -> put(others, ClusterDiffKey.of(other.kind(), o.key()), object == null ? null
                    : KubeObjects.other(other.kind().apiVersion(), other.kind().kind(), other.kind().clusterScoped(), object));
        }
    }

    /** The keys held of one kind, as informers name them ({@code namespace/name}, or the name). */
    java.util.Set<String> keys(Watched watched) {
        return switch (watched) {
            case Watched.Nodes n -> java.util.Set.copyOf(nodes.keySet());
            case Watched.Namespaces n -> java.util.Set.copyOf(namespaces.keySet());
            case Watched.Pods p -> java.util.Set.copyOf(pods.keySet());
            case Watched.Services s -> java.util.Set.copyOf(services.keySet());
            case Watched.EndpointSlices e -> java.util.Set.copyOf(slices.keySet());
            case Watched.Other other -> {
                String prefix = ClusterDiffKey.of(other.kind(), "");
                yield others.keySet().stream().filter(k -> k.startsWith(prefix)).map(k -> k.substring(prefix.length()))
                        .collect(java.util.stream.Collectors.toSet());
            }
        };
    }

    /** The pods a slice lists by reference, and whether it calls each ready (kube-proxy's "ready" condition, unset meaning ready). */
    private static Map<String, Boolean> listed(EndpointSlice slice) {
        Map<String, Boolean> listed = new HashMap<>();
        if (slice.getEndpoints() == null) {
            return listed;
        }
        for (Endpoint e : slice.getEndpoints()) {
            var ref = e.getTargetRef();
            if (ref == null || !"Pod".equals(ref.getKind()) || ref.getName() == null) {
                continue;
            }
            String ns = ref.getNamespace() == null ? slice.getMetadata().getNamespace() : ref.getNamespace();
            boolean ready = e.getConditions() == null || e.getConditions().getReady() == null || e.getConditions().getReady();
            listed.merge(ns + "/" + ref.getName(), ready, Boolean::logicalOr);
        }
        return listed;
    }

    private static long resourceVersion(HasMetadata o) {
        try {
            return Long.parseLong(o.getMetadata().getResourceVersion());
        } catch (NumberFormatException | NullPointerException e) {
            return -1;
        }
    }

    private static <T> void put(Map<String, T> map, String key, T value) {
        if (value == null) {
            map.remove(key);
        } else {
            map.put(key, value);
        }
    }

    /** The view of what was reported so far. */
    ClusterView view() {
        if (stale) {
            Map<String, Boolean> sliceReady = new HashMap<>();
            slices.values().forEach(listed -> listed.forEach((pod, ready) -> sliceReady.merge(pod, ready, Boolean::logicalOr)));
            List<ClusterView.Pod> podViews = pods.entrySet().stream()
                    .flatMap(e -> KubeObjects.pod(e.getValue(), sliceReady.get(e.getKey())).stream()).toList();
            view = new ClusterView(List.copyOf(nodes.values()), List.copyOf(namespaces.values()), podViews,
                    List.copyOf(services.values()), clusterIps, List.copyOf(others.values()));
            stale = false;
        }
        return view;
    }

    /** Keys of other objects as {@link ClusterDiff#objectKey} names them, so that kinds never collide. */
    private static final class ClusterDiffKey {
        static String of(WatchedKind kind, String key) {
            return kind.kind() + "." + kind.group() + " " + key;
        }
    }
}
