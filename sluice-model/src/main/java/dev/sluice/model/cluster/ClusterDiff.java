package dev.sluice.model.cluster;

import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.OtherObject;
import dev.sluice.model.ServiceSpec;
import dev.sluice.model.cluster.ClusterEvent.Kind;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * The events between two views: for a source that sees whole states (the lab's state file) and not
 * object by object. A Service whose ClusterIP changed is reported as updated.
 */
public final class ClusterDiff {
    private ClusterDiff() {
    }

    public static List<ClusterEvent> between(ClusterView before, ClusterView after) {
        List<ClusterEvent> events = new ArrayList<>();
        diff(Kind.NODE, before.nodes(), after.nodes(), ClusterView.Node::name, events);
        diff(Kind.NAMESPACE, before.namespaces(), after.namespaces(), NamespaceSpec::name, events);
        diff(Kind.POD, before.pods(), after.pods(), ClusterView.Pod::key, events);
        diff(Kind.SERVICE, services(before), services(after), ServiceWithIp::key, events);
        diff(Kind.OBJECT, before.objects(), after.objects(), ClusterDiff::objectKey, events);
        return events;
    }

    private record ServiceWithIp(ServiceSpec spec, String clusterIp) {
        String key() {
            return spec.ref().toString();
        }
    }

    private static List<ServiceWithIp> services(ClusterView view) {
        return view.services().stream().map(s -> new ServiceWithIp(s, view.clusterIps().get(s.ref().toString()))).toList();
    }

    /** How an other object is named in events: kind, API group and namespace/name. */
    public static String objectKey(OtherObject o) {
        return o.kind() + (o.group().isEmpty() ? "" : "." + o.group()) + " " + o.ref();
    }

    private static <T> void diff(Kind kind, List<T> before, List<T> after, Function<T, String> key, List<ClusterEvent> events) {
        Map<String, T> old = new LinkedHashMap<>();
        before.forEach(o -> old.put(key.apply(o), o));
        for (T o : after) {
            T previous = old.remove(key.apply(o));
            if (!Objects.equals(previous, o)) {
                events.add(new ClusterEvent.Upserted(kind, key.apply(o)));
            }
        }
        old.keySet().forEach(k -> events.add(new ClusterEvent.Deleted(kind, k)));
    }
}
