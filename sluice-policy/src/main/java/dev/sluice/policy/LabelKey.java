package dev.sluice.policy;

import java.util.Objects;
import java.util.Set;

/**
 * A label key as a selector names it: {@code k8s:app} matches only labels from Kubernetes, {@code app} (source
 * {@code any}) matches a label {@code app} from any source, as in Cilium, where a key without a source prefix
 * gets the {@code any} source.
 */
public record LabelKey(String source, String key) {
    public static final String ANY = "any";

    /** The sources a policy may select on; Cilium knows more (container, cidr, fqdn, ...) that no pod carries here. */
    static final Set<String> SELECTABLE_SOURCES = Set.of(ANY, Label.K8S, Label.RESERVED);

    public LabelKey {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(key, "key");
    }

    /**
     * {@code k8s:app} or {@code app}. Kubernetes label keys cannot contain ':', so the first ':' always ends a
     * source, as in Cilium's parser.
     */
    public static LabelKey parse(String text) {
        int colon = text.indexOf(':');
        return colon < 0 ? new LabelKey(ANY, text) : new LabelKey(text.substring(0, colon), text.substring(colon + 1));
    }

    public static LabelKey k8s(String key) {
        return new LabelKey(Label.K8S, key);
    }

    boolean matches(Label label) {
        return label.key().equals(key) && (source.equals(ANY) || source.equals(label.source()));
    }

    @Override
    public String toString() {
        return source + ":" + key;
    }
}
