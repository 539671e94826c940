package dev.sluice.policy;

/** Cilium's reserved identities, with the numbers its datapath and users know them by. */
public enum ReservedIdentity {
    /** The wildcard in policy map lookups; no traffic carries it. */
    UNKNOWN(0, "unknown"),
    /** The local node's own network stack (kubelet probes come from here). */
    HOST(1, "host"),
    /** Anything outside the cluster that no CIDR identity covers. */
    WORLD(2, "world"),
    UNMANAGED(3, "unmanaged"),
    HEALTH(4, "health"),
    /** An endpoint whose labels are not known yet. */
    INIT(5, "init"),
    REMOTE_NODE(6, "remote-node"),
    KUBE_APISERVER(7, "kube-apiserver"),
    INGRESS(8, "ingress"),
    /** Only used in dual-stack clusters; the lab is IPv4-only and uses {@link #WORLD}. */
    WORLD_IPV4(9, "world-ipv4"),
    /** Only used in dual-stack clusters; the lab is IPv4-only and uses {@link #WORLD}. */
    WORLD_IPV6(10, "world-ipv6");

    private static final java.util.Map<Integer, ReservedIdentity> BY_ID = java.util.Arrays.stream(values())
            .collect(java.util.stream.Collectors.toUnmodifiableMap(ReservedIdentity::id, r -> r));

    private final int id;
    private final String label;

    ReservedIdentity(int id, String label) {
        this.id = id;
        this.label = label;
    }

    public int id() {
        return id;
    }

    /** The name after {@code reserved:}, as Cilium prints it. */
    public String label() {
        return label;
    }

    /** The reserved identity numbered {@code id}; empty for any other number (a label set's or a CIDR's identity). */
    public static java.util.Optional<ReservedIdentity> of(int id) {
        return java.util.Optional.ofNullable(BY_ID.get(id));
    }

    public Identity identity() {
        return IDENTITIES.get(this);
    }

    // Made once: the evaluator asks for a reserved peer's labels at every decision.
    private static final java.util.Map<ReservedIdentity, Identity> IDENTITIES = new java.util.EnumMap<>(ReservedIdentity.class);

    static {
        for (ReservedIdentity r : values()) {
            IDENTITIES.put(r, new Identity(r.id, r == UNKNOWN ? Labels.NONE : Labels.of(Label.reserved(r.label))));
        }
    }
}
