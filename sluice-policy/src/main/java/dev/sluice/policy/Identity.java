package dev.sluice.policy;

import java.util.Objects;

/**
 * A security identity: the number the datapath carries for a set of identity-relevant labels.
 *
 * @param id 0..255 reserved, {@link #MIN_CLUSTER}..{@link #MAX_CLUSTER} for label sets of pods, and from
 *           {@link #LOCAL_FLAG} up for CIDR identities, which are local to a node
 */
public record Identity(int id, Labels labels) {
    public static final int MIN_CLUSTER = 256;
    public static final int MAX_CLUSTER = 65535;
    /** Cilium marks node-local identities (CIDR identities among them) with bit 24. */
    public static final int LOCAL_FLAG = 1 << 24;
    public static final int MAX_LOCAL = LOCAL_FLAG | 0xFFFFFF;

    public Identity {
        Objects.requireNonNull(labels, "labels");
        if (id < 0 || (id > MAX_CLUSTER && id < LOCAL_FLAG) || id > MAX_LOCAL) {
            throw new IllegalArgumentException("not a security identity: " + id);
        }
    }

    public boolean isReserved() {
        return id < MIN_CLUSTER;
    }

    public boolean isCluster() {
        return id >= MIN_CLUSTER && id <= MAX_CLUSTER;
    }

    public boolean isLocal() {
        return id >= LOCAL_FLAG;
    }

    @Override
    public String toString() {
        return id + " " + labels;
    }
}
