package dev.sluice.policy;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Hands out security identities: one per distinct set of identity-relevant labels (from 256 up) and one per
 * distinct CIDR used in policy (from {@code 1 << 24} up). An identity once given to a label set stays with it for
 * the allocator's life, and a seeded allocator keeps the seeds' numbers, so that a restarted agent gives each pod
 * the number the datapath's maps and connection tracking already know.
 */
public final class IdentityAllocator {
    /** Cilium's first node-local identity is {@code LOCAL_FLAG + 1} (its MinAllocatorLocalIdentity is 1). */
    private static final int FIRST_LOCAL = Identity.LOCAL_FLAG + 1;

    private final Map<Labels, Integer> clusterIds = new HashMap<>();
    private final Map<Integer, Labels> clusterLabels = new TreeMap<>();
    private final Map<Cidr, Integer> cidrIds = new LinkedHashMap<>();
    private final Map<Labels, Integer> localIds = new LinkedHashMap<>();
    private int nextLocal = FIRST_LOCAL;

    public IdentityAllocator() {
        this(Map.of());
    }

    /**
     * @param existing label sets and the cluster identities they already have (e.g. {@link #assignments()} of an
     *                 earlier allocator); new label sets get the lowest numbers these leave free
     * @throws IllegalArgumentException if a number is outside 256..65535, used twice, or given to reserved labels
     */
    public IdentityAllocator(Map<Labels, Integer> existing) {
        existing.forEach((labels, id) -> {
            Objects.requireNonNull(labels, "labels");
            Objects.requireNonNull(id, "id");
            if (id < Identity.MIN_CLUSTER || id > Identity.MAX_CLUSTER) {
                throw new IllegalArgumentException("identity " + id + " for " + labels + " is outside the cluster range "
                        + Identity.MIN_CLUSTER + ".." + Identity.MAX_CLUSTER);
            }
            requireEndpointLabels(labels);
            Labels other = clusterLabels.putIfAbsent(id, labels);
            if (other != null) {
                throw new IllegalArgumentException("identity " + id + " is given to both " + other + " and " + labels);
            }
            clusterIds.put(labels, id);
        });
    }

    /** The identity of a pod with these labels, made up by {@link EndpointLabels}. */
    public synchronized Identity allocate(Labels labels) {
        requireEndpointLabels(labels);
        Integer id = clusterIds.get(labels);
        if (id == null) {
            id = lowestFreeClusterId();
            clusterIds.put(labels, id);
            clusterLabels.put(id, labels);
        }
        return new Identity(id, labels);
    }

    /** The CIDR identity of {@code cidr}: labels {@code cidr:PREFIX} and {@code reserved:world}, as in Cilium. */
    public synchronized Identity allocate(Cidr cidr) {
        Integer id = cidrIds.get(cidr);
        if (id == null) {
            if (nextLocal > Identity.MAX_LOCAL) {
                throw new IllegalStateException("no node-local identity is left for " + cidr);
            }
            id = nextLocal++;
            cidrIds.put(cidr, id);
        }
        return new Identity(id, Labels.of(new Label(Label.CIDR, cidr.toString(), ""), Label.reserved("world")));
    }

    /**
     * A node-local identity for {@code labels} (one per distinct set, from the CIDR identities' range): for the
     * pods an ipBlock sets apart from others with their labels ({@link PeerIdentities}).
     */
    public synchronized Identity allocateLocal(Labels labels) {
        Integer id = localIds.get(labels);
        if (id == null) {
            if (nextLocal > Identity.MAX_LOCAL) {
                throw new IllegalStateException("no node-local identity is left for " + labels);
            }
            id = nextLocal++;
            localIds.put(labels, id);
        }
        return new Identity(id, labels);
    }

    /** One CIDR identity for each distinct CIDR the policies name (except lists included), in the order they name them. */
    public synchronized Map<Cidr, Identity> allocateCidrs(PolicySet policies) {
        Map<Cidr, Identity> identities = new LinkedHashMap<>();
        policies.cidrs().forEach(cidr -> identities.put(cidr, allocate(cidr)));
        return Collections.unmodifiableMap(identities);
    }

    /** Every cluster identity given so far, by number: what to seed the next allocator with. */
    public synchronized Map<Labels, Integer> assignments() {
        Map<Labels, Integer> byNumber = new LinkedHashMap<>();
        clusterLabels.forEach((id, labels) -> byNumber.put(labels, id));
        return Collections.unmodifiableMap(byNumber);
    }

    private int lowestFreeClusterId() {
        for (int id = Identity.MIN_CLUSTER; id <= Identity.MAX_CLUSTER; id++) {
            if (!clusterLabels.containsKey(id)) {
                return id;
            }
        }
        throw new IllegalStateException("all cluster identities " + Identity.MIN_CLUSTER + ".." + Identity.MAX_CLUSTER
                + " are in use");
    }

    /** Reserved and CIDR labels have fixed or node-local identities; asking for a cluster number for them is a bug. */
    private static void requireEndpointLabels(Labels labels) {
        for (Label label : labels.labels()) {
            if (!label.source().equals(Label.K8S)) {
                throw new IllegalArgumentException("cluster identities are for pods' k8s labels, got " + label + " in " + labels);
            }
        }
    }
}
