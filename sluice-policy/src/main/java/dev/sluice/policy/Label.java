package dev.sluice.policy;

import java.util.Comparator;
import java.util.Objects;

/**
 * One label of a security identity, as Cilium writes it: {@code k8s:app=web}, {@code reserved:host},
 * {@code cidr:10.0.0.0/8}.
 *
 * @param source where the label comes from: {@code k8s} for everything taken from Kubernetes objects,
 *               {@code reserved} for Cilium's reserved identities, {@code cidr} for CIDR identities
 * @param value "" for labels that only exist (reserved and CIDR labels)
 */
public record Label(String source, String key, String value) implements Comparable<Label> {
    public static final String K8S = "k8s";
    public static final String RESERVED = "reserved";
    public static final String CIDR = "cidr";

    private static final Comparator<Label> ORDER = Comparator.comparing(Label::source)
            .thenComparing(Label::key).thenComparing(Label::value);

    public Label {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
    }

    public static Label k8s(String key, String value) {
        return new Label(K8S, key, value);
    }

    public static Label reserved(String name) {
        return new Label(RESERVED, name, "");
    }

    @Override
    public int compareTo(Label other) {
        return ORDER.compare(this, other);
    }

    @Override
    public String toString() {
        return source + ":" + key + (value.isEmpty() ? "" : "=" + value);
    }
}
