package dev.sluice.k8s;

import dev.sluice.agent.api.Identities;
import dev.sluice.agent.api.Identities.Assignment;
import dev.sluice.agent.api.NodeLayout;
import dev.sluice.policy.Identity;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Label;
import dev.sluice.policy.Labels;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

import java.net.HttpURLConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * Security identities agreed by every agent of a Kubernetes cluster through the API server, as Cilium's "crd"
 * identity allocation mode does: one cluster-scoped {@code CiliumIdentity} ({@code cilium.io/v2}) per
 * identity, named by its number, its labels in {@code security-labels} ({@code "k8s:app": "web"}).
 *
 * <p>Allocation is create-if-absent: a label set no object holds gets the lowest number free as this agent
 * sees them; the API server refuses a second object of that name (409 Conflict), so an agent that raced
 * another lists again and either finds its labels numbered meanwhile or tries the next number. Should two
 * numbers ever hold the same labels, every agent takes the lowest, and the other is released as unused.
 * Identities no pod uses are marked ({@value #UNUSED_SINCE} annotation) and deleted after a grace period, as
 * Cilium's operator collects them (an update refused because another agent changed the object is left to the
 * next round).
 */
public final class CrdIdentities implements Identities.Store {
    /** The annotation that says since when (epoch ms) no agent saw the identity in use. */
    public static final String UNUSED_SINCE = "sluice.dev/unused-since";
    static final ResourceDefinitionContext CONTEXT = new ResourceDefinitionContext.Builder().withGroup("cilium.io")
            .withVersion("v2").withKind("CiliumIdentity").withPlural("ciliumidentities").withNamespaced(false).build();
    private static final int ATTEMPTS = 64;

    private final KubernetesClient client;
    private final Duration grace;
    private final LongSupplier clock;

    /** Registered as the identity store of agents started {@code --source kubernetes}. */
    public static final class Provider implements Identities.StoreProvider {
        @Override
        public String source() {
            return "kubernetes";
        }

        @Override
        public Identities.Store open(NodeLayout layout) {
            return new CrdIdentities(new KubernetesClientBuilder().build(), Duration.ofMinutes(15), System::currentTimeMillis);
        }
    }

    public CrdIdentities(KubernetesClient client, Duration grace, LongSupplier clock) {
        this.client = client;
        this.grace = grace;
        this.clock = clock;
    }

    /** One CiliumIdentity as read; {@code labels} null when they are not pods' labels (its number is taken all the same). */
    private record Stored(int id, Labels labels, long unusedSince, GenericKubernetesResource object) {
        boolean foreign() {
            return labels == null;
        }
    }

    @Override
    public IdentityAllocator allocate(Collection<Labels> inUse) {
        List<Labels> wanted = inUse.stream().distinct().sorted(Comparator.comparing(Labels::toString)).toList();
        Map<Integer, Stored> stored = list();
        for (Labels labels : wanted) {
            for (int attempt = 0; lowest(stored, labels) == null; attempt++) {
                if (attempt == ATTEMPTS) {
                    throw new IllegalStateException("no identity for " + labels + " after " + ATTEMPTS + " conflicting attempts");
                }
                int id = free(stored);
                try {
                    GenericKubernetesResource created = client.genericKubernetesResources(CONTEXT).resource(object(id, labels)).create();
                    stored.put(id, new Stored(id, labels, 0, created));
                } catch (KubernetesClientException e) {
                    if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
                        throw e;
                    }
                    stored = list(); // another agent took the number: its labels may be these
                }
            }
        }
        collect(stored, new HashSet<>(wanted));
        Map<Labels, Integer> kept = new HashMap<>();
        stored.values().stream().filter(s -> !s.foreign()).sorted(Comparator.comparingInt(Stored::id)).forEach(s -> kept.putIfAbsent(s.labels(), s.id()));
        return new IdentityAllocator(kept);
    }

    /** Marks what is unused, clears the mark of what is used again, deletes what stayed unused for the grace period. */
    private void collect(Map<Integer, Stored> stored, Set<Labels> used) {
        long now = clock.getAsLong();
        for (Stored s : List.copyOf(stored.values())) {
            if (s.foreign()) {
                continue;
            }
            boolean inUse = used.contains(s.labels()) && lowest(stored, s.labels()) == s.id();
            try {
                if (inUse && s.unusedSince() != 0) {
                    GenericKubernetesResource o = s.object();
                    o.getMetadata().getAnnotations().remove(UNUSED_SINCE);
                    stored.put(s.id(), new Stored(s.id(), s.labels(), 0, client.genericKubernetesResources(CONTEXT).resource(o).update()));
                } else if (!inUse && s.unusedSince() == 0) {
                    GenericKubernetesResource o = s.object();
                    o.getMetadata().getAnnotations().put(UNUSED_SINCE, Long.toString(now));
                    stored.put(s.id(), new Stored(s.id(), s.labels(), now, client.genericKubernetesResources(CONTEXT).resource(o).update()));
                } else if (!inUse && now - s.unusedSince() >= grace.toMillis()) {
                    // Only the version read: had another agent cleared the mark meanwhile, this is refused.
                    client.genericKubernetesResources(CONTEXT).resource(s.object()).lockResourceVersion(s.object().getMetadata().getResourceVersion()).delete();
                    stored.remove(s.id());
                }
            } catch (KubernetesClientException e) {
                if (e.getCode() != HttpURLConnection.HTTP_CONFLICT && e.getCode() != HttpURLConnection.HTTP_NOT_FOUND) {
                    throw e;
                }
                // Another agent changed or removed it first: the next round sees what it did.
            }
        }
    }

    @Override
    public List<Assignment> read() {
        return list().values().stream().filter(s -> !s.foreign()).map(s -> new Assignment(s.id(), s.labels(), s.unusedSince())).toList();
    }

    /** Every CiliumIdentity named by a cluster identity's number, by number (those not of pods' labels as foreign). */
    private Map<Integer, Stored> list() {
        Map<Integer, Stored> out = new TreeMap<>();
        for (GenericKubernetesResource o : client.genericKubernetesResources(CONTEXT).list().getItems()) {
            int id;
            try {
                id = Integer.parseInt(o.getMetadata().getName());
            } catch (NumberFormatException e) {
                continue;
            }
            if (id < Identity.MIN_CLUSTER || id > Identity.MAX_CLUSTER) {
                continue;
            }
            if (!(o.getAdditionalProperties().get("security-labels") instanceof Map<?, ?> raw)) {
                out.put(id, new Stored(id, null, 0, o));
                continue;
            }
            List<Label> labels = new ArrayList<>();
            boolean endpoint = true;
            for (var e : raw.entrySet()) {
                String key = String.valueOf(e.getKey());
                int colon = key.indexOf(':');
                if (colon < 0 || !key.substring(0, colon).equals(Label.K8S)) {
                    endpoint = false;
                    break;
                }
                labels.add(new Label(Label.K8S, key.substring(colon + 1), e.getValue() == null ? "" : String.valueOf(e.getValue())));
            }
            if (!endpoint) {
                out.put(id, new Stored(id, null, 0, o));
                continue;
            }
            if (o.getMetadata().getAnnotations() == null) {
                o.getMetadata().setAnnotations(new LinkedHashMap<>());
            }
            long since = 0;
            try {
                since = Long.parseLong(o.getMetadata().getAnnotations().getOrDefault(UNUSED_SINCE, "0"));
            } catch (NumberFormatException e) {
                since = clock.getAsLong();
            }
            out.put(id, new Stored(id, Labels.of(labels), since, o));
        }
        return out;
    }

    private static Integer lowest(Map<Integer, Stored> stored, Labels labels) {
        return stored.values().stream().filter(s -> labels.equals(s.labels())).map(Stored::id).min(Integer::compare).orElse(null);
    }

    private static int free(Map<Integer, Stored> stored) {
        for (int id = Identity.MIN_CLUSTER; id <= Identity.MAX_CLUSTER; id++) {
            if (!stored.containsKey(id)) {
                return id;
            }
        }
        throw new IllegalStateException("every cluster identity " + Identity.MIN_CLUSTER + ".." + Identity.MAX_CLUSTER + " is taken");
    }

    /** A CiliumIdentity for {@code labels} numbered {@code id}; its metadata labels as Cilium writes them (source prefix dropped). */
    private static GenericKubernetesResource object(int id, Labels labels) {
        Map<String, String> security = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Label l : labels.labels()) {
            security.put(l.source() + ":" + l.key(), l.value());
            if (l.key().length() <= 63 && l.key().matches("([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
                    && l.value().matches("(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)")) {
                meta.put(l.key(), l.value());
            }
        }
        GenericKubernetesResource r = new GenericKubernetesResourceBuilder().withApiVersion("cilium.io/v2").withKind("CiliumIdentity")
                .withNewMetadata().withName(Integer.toString(id)).withLabels(meta).withAnnotations(new LinkedHashMap<>()).endMetadata().build();
        r.setAdditionalProperty("security-labels", security);
        return r;
    }
}
