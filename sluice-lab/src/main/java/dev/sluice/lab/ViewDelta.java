package dev.sluice.lab;

import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.OtherObject;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.cluster.ClusterDiff;
import dev.sluice.model.cluster.ClusterEvent;
import dev.sluice.model.cluster.ClusterEvent.Kind;
import dev.sluice.model.cluster.ClusterView;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * One line of the lab's change log: what changed in the cluster view between two versions of the lab's
 * state, object by object, as informers would report it. The lab computes it once when it writes its state
 * (it knows both states); every agent then applies a few objects to the view it holds instead of reading and
 * comparing the whole state, whose size grows with the cluster (at 10,000 Services, 3-6 MB of JSON).
 *
 * @param base       the state version this delta applies to: a reader whose view is of another version
 *                   (it missed a line, or the log was restarted) reads the whole state instead
 * @param version    the state version after it
 * @param clusterIps the ClusterIPs of the Services in {@code services} (a Service whose ClusterIP changed is updated)
 * @param removed    objects gone, as {@code KIND key} ({@link ClusterEvent.Deleted}'s kind and key)
 */
record ViewDelta(long base, long version, List<ClusterView.Node> nodes, List<NamespaceSpec> namespaces,
                 List<ClusterView.Pod> pods, List<ServiceSpec> services, Map<String, String> clusterIps,
                 List<OtherObject> objects, List<Removed> removed) {

    ViewDelta {
        nodes = List.copyOf(nodes);
        namespaces = List.copyOf(namespaces);
        pods = List.copyOf(pods);
        services = List.copyOf(services);
        clusterIps = Map.copyOf(clusterIps);
        objects = List.copyOf(objects);
        removed = List.copyOf(removed);
    }

    /** An object that went away. */
    record Removed(Kind kind, String key) {
    }

    /** The objects of {@code after} that differ from {@code before}, and those of {@code before} that are gone. */
    static ViewDelta between(long base, ClusterView before, long version, ClusterView after) {
        List<ClusterView.Node> nodes = new ArrayList<>();
        List<NamespaceSpec> namespaces = new ArrayList<>();
        List<ClusterView.Pod> pods = new ArrayList<>();
        List<ServiceSpec> services = new ArrayList<>();
        Map<String, String> ips = new LinkedHashMap<>();
        List<OtherObject> objects = new ArrayList<>();
        List<Removed> removed = new ArrayList<>();
        Map<String, ClusterView.Node> nodeByKey = byKey(after.nodes(), ClusterView.Node::name);
        Map<String, NamespaceSpec> nsByKey = byKey(after.namespaces(), NamespaceSpec::name);
        Map<String, ClusterView.Pod> podByKey = byKey(after.pods(), ClusterView.Pod::key);
        Map<String, ServiceSpec> svcByKey = byKey(after.services(), s -> s.ref().toString());
        Map<String, OtherObject> objByKey = byKey(after.objects(), ClusterDiff::objectKey);
        for (ClusterEvent e : ClusterDiff.between(before, after)) {
            switch (e) {
                case ClusterEvent.Upserted u -> {
                    switch (u.kind()) {
                        case NODE -> nodes.add(nodeByKey.get(u.key()));
                        case NAMESPACE -> namespaces.add(nsByKey.get(u.key()));
                        case POD -> pods.add(podByKey.get(u.key()));
                        case SERVICE -> {
                            services.add(svcByKey.get(u.key()));
                            String ip = after.clusterIps().get(u.key());
                            if (ip != null) {
                                ips.put(u.key(), ip);
                            }
                        }
                        case OBJECT -> objects.add(objByKey.get(u.key()));
                    }
                }
                case ClusterEvent.Deleted d -> removed.add(new Removed(d.kind(), d.key()));
                case ClusterEvent.Synced s -> {
                }
            }
        }
        return new ViewDelta(base, version, nodes, namespaces, pods, services, ips, objects, removed);
    }

    /** The events this delta reports, in the order {@link ClusterDiff} gives them. */
    List<ClusterEvent> events() {
        List<ClusterEvent> events = new ArrayList<>();
        nodes.forEach(n -> events.add(new ClusterEvent.Upserted(Kind.NODE, n.name())));
        namespaces.forEach(n -> events.add(new ClusterEvent.Upserted(Kind.NAMESPACE, n.name())));
        pods.forEach(p -> events.add(new ClusterEvent.Upserted(Kind.POD, p.key())));
        services.forEach(s -> events.add(new ClusterEvent.Upserted(Kind.SERVICE, s.ref().toString())));
        objects.forEach(o -> events.add(new ClusterEvent.Upserted(Kind.OBJECT, ClusterDiff.objectKey(o))));
        removed.forEach(r -> events.add(new ClusterEvent.Deleted(r.kind(), r.key())));
        return events;
    }

    /** {@code view} with this delta applied: updated objects keep their place, new ones come last (as in the state). */
    ClusterView applyTo(ClusterView view) {
        Map<String, String> ips = new LinkedHashMap<>(view.clusterIps());
        removed.stream().filter(r -> r.kind() == Kind.SERVICE).forEach(r -> ips.remove(r.key()));
        ips.putAll(clusterIps);
        return new ClusterView(
                merge(view.nodes(), nodes, ClusterView.Node::name, Kind.NODE),
                merge(view.namespaces(), namespaces, NamespaceSpec::name, Kind.NAMESPACE),
                merge(view.pods(), pods, ClusterView.Pod::key, Kind.POD),
                merge(view.services(), services, s -> s.ref().toString(), Kind.SERVICE),
                ips,
                merge(view.objects(), objects, ClusterDiff::objectKey, Kind.OBJECT));
    }

    private <T> List<T> merge(List<T> current, List<T> upserts, Function<T, String> key, Kind kind) {
        if (upserts.isEmpty() && removed.stream().noneMatch(r -> r.kind() == kind)) {
            return current;
        }
        Map<String, T> out = byKey(current, key);
        removed.stream().filter(r -> r.kind() == kind).forEach(r -> out.remove(r.key()));
        upserts.forEach(o -> out.put(key.apply(o), o));
        return List.copyOf(out.values());
    }

    private static <T> Map<String, T> byKey(List<T> list, Function<T, String> key) {
        Map<String, T> out = new LinkedHashMap<>();
        list.forEach(o -> out.put(key.apply(o), o));
        return out;
    }
}
