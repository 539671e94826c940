package dev.sluice.policy;

import dev.sluice.model.ContainerPort;
import java.net.Inet4Address;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A pod as policy sees it: the identity its labels give it and the ports its containers name.
 *
 * @param ports the containers' ports; named ones resolve named ports in rules when this pod is the destination
 * @param address the pod's IPv4 address, or null where it does not matter: only CIDR rules that select pods
 *                (NetworkPolicy's ipBlock, {@link CidrRule#selectsPods}) look at it, and match nothing without it
 */
public record Endpoint(String namespace, String name, Identity identity, List<ContainerPort> ports, Inet4Address address)
        implements Peer {
    public Endpoint {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(identity, "identity");
        ports = List.copyOf(ports);
        if (!identity.labels().contains(Label.k8s(EndpointLabels.NAMESPACE, namespace))) {
            throw new IllegalArgumentException("identity " + identity + " is not one of namespace " + namespace);
        }
    }

    /** A pod whose address policy does not need. */
    public Endpoint(String namespace, String name, Identity identity, List<ContainerPort> ports) {
        this(namespace, name, identity, ports, null);
    }

    /** The same pod at {@code address}. */
    public Endpoint at(Inet4Address address) {
        return new Endpoint(namespace, name, identity, ports, address);
    }

    /** A pod with its identity from {@code allocator}, its labels made by {@link EndpointLabels#of(String, Map, Map)}. */
    public static Endpoint of(IdentityAllocator allocator, String namespace, String name, Map<String, String> podLabels,
                              Map<String, String> namespaceLabels, List<ContainerPort> ports) {
        return new Endpoint(namespace, name, allocator.allocate(EndpointLabels.of(namespace, podLabels, namespaceLabels)), ports);
    }

    @Override
    public Labels labels() {
        return identity.labels();
    }

    @Override
    public String toString() {
        return namespace + "/" + name + " (ID:" + identity.id() + ")";
    }
}
