package dev.sluice.policy;

import dev.sluice.model.ManifestException;
import dev.sluice.model.NamespaceSpec;
import dev.sluice.model.OtherObject;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.model.cluster.ClusterView.Pod;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * A cluster view read as policy sees it: each pod's identity labels, the policies in force, every pod as an
 * {@link Endpoint}. The agents compile the datapath from these, and {@code sluice policy explain} explains by them,
 * so the two cannot read a cluster differently.
 */
public final class ClusterPolicy {
    private ClusterPolicy() {
    }

    /** Each pod's identity labels: its own, its namespace and the namespace's labels ({@link EndpointLabels}). */
    public static Map<Pod, Labels> identityLabels(ClusterView state) {
        Map<String, Map<String, String>> nsLabels = state.namespaces().stream()
                .collect(Collectors.toMap(NamespaceSpec::name, NamespaceSpec::labels, (a, b) -> b));
        Map<Pod, Labels> labels = new LinkedHashMap<>();
        for (Pod p : state.pods()) {
            labels.put(p, EndpointLabels.of(p.namespace(), p.labels(), nsLabels.getOrDefault(p.namespace(), Map.of())));
        }
        return labels;
    }

    /**
     * The policies among the view's objects, in order. One that cannot be read is left out and reported to
     * {@code problems} (lab apply refuses those, so a lab holds none; an agent keeps the last good version instead).
     */
    public static PolicySet policies(ClusterView state, Consumer<String> problems) {
        List<Policy> out = new ArrayList<>();
        for (OtherObject o : state.objects()) {
            if (PolicyParser.isPolicy(o)) {
                try {
                    out.add(PolicyParser.parse(o, w -> { }));
                } catch (ManifestException e) {
                    problems.accept(e.getMessage().lines().findFirst().orElse(e.getMessage()));
                }
            }
        }
        return new PolicySet(out);
    }

    /** Every pod as policy sees it, by {@code namespace/name}: its identity from {@code allocator}, ports, address. */
    public static Map<String, Endpoint> endpoints(ClusterView state, IdentityAllocator allocator) {
        Map<String, Endpoint> out = new LinkedHashMap<>();
        identityLabels(state).forEach((p, l) -> out.put(p.key(),
                new Endpoint(p.namespace(), p.name(), allocator.allocate(l), p.ports(), (Inet4Address) Cidr.address(p.ip()))));
        return out;
    }
}
