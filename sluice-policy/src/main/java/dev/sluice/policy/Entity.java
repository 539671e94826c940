package dev.sluice.policy;

import java.util.Arrays;
import java.util.Optional;
import java.util.Set;

/** The names Cilium's {@code fromEntities}/{@code toEntities} take for peers that have no labels of their own. */
public enum Entity implements PeerMatch {
    ALL("all"),
    WORLD("world"),
    CLUSTER("cluster"),
    HOST("host"),
    REMOTE_NODE("remote-node"),
    KUBE_APISERVER("kube-apiserver"),
    HEALTH("health"),
    INIT("init"),
    UNMANAGED("unmanaged"),
    INGRESS("ingress"),
    /** Selects nothing; Cilium has it so that a policy can put an endpoint in default deny explicitly. */
    NONE("none");

    /** What Cilium's {@code cluster} entity is made of besides the cluster's pods. */
    private static final Set<String> CLUSTER_RESERVED = Set.of(
            "host", "remote-node", "init", "ingress", "health", "unmanaged", "kube-apiserver");

    private final String text;

    Entity(String text) {
        this.text = text;
    }

    public static Optional<Entity> parse(String text) {
        return Arrays.stream(values()).filter(e -> e.text.equals(text)).findFirst();
    }

    /** Whether a peer with {@code labels} (see {@link Peer#labels()}) is this entity. */
    public boolean matches(Labels labels) {
        return switch (this) {
            case ALL -> true;
            case NONE -> false;
            case WORLD -> labels.contains(Label.reserved("world"));
            case CLUSTER -> labels.labels().stream().anyMatch(l -> l.source().equals(Label.RESERVED)
                            && CLUSTER_RESERVED.contains(l.key()))
                    || labels.contains(Label.k8s(EndpointLabels.CLUSTER, EndpointLabels.CLUSTER_NAME));
            default -> labels.contains(Label.reserved(text));
        };
    }

    @Override
    public String toString() {
        return text;
    }
}
