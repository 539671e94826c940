package dev.sluice.install;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.List;

/**
 * YAML streams read back as Kubernetes objects by fabric8's deserialisation, each as its own kind's model class: an
 * object that came back as a GenericKubernetesResource has a kind or apiVersion fabric8 does not know, a failure.
 */
final class Parsing {
    private Parsing() {
    }

    static List<HasMetadata> objects(String yaml) {
        List<HasMetadata> out = new ArrayList<>();
        for (String doc : yaml.split("(?m)^---\\s*$")) {
            if (doc.lines().allMatch(l -> l.isBlank() || l.stripLeading().startsWith("#"))) {
                continue;
            }
            KubernetesResource r = Serialization.unmarshal(doc);
            if (!(r instanceof HasMetadata o) || r instanceof GenericKubernetesResource) {
                fail("not parsed as a Kubernetes kind: " + r.getClass().getSimpleName() + "\n" + doc);
                return out;
            }
            assertFalse(o.getMetadata().getName() == null || o.getMetadata().getName().isEmpty(), doc);
            out.add(o);
        }
        return out;
    }
}
