package dev.sluice.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/** The state the user's manifests ask for, in the order they were read. */
public record Desired(List<NamespaceSpec> namespaces, List<DeploymentSpec> deployments, List<PodSpec> pods,
                      List<ServiceSpec> services, List<OtherObject> others) {
    public Desired {
        namespaces = Copies.list(namespaces);
        deployments = Copies.list(deployments);
        pods = Copies.list(pods);
        services = Copies.list(services);
        others = Copies.list(others);
    }

    public static Desired empty() {
        return new Desired(List.of(), List.of(), List.of(), List.of(), List.of());
    }

    /**
     * This state with {@code changes} applied, as {@code kubectl apply} would: an object of the same kind and
     * name replaces the one here, in its place; new objects come after.
     */
    public Desired apply(Desired changes) {
        return new Desired(
                merge(namespaces, changes.namespaces, NamespaceSpec::name),
                merge(deployments, changes.deployments, DeploymentSpec::ref),
                merge(pods, changes.pods, PodSpec::ref),
                merge(services, changes.services, ServiceSpec::ref),
                merge(others, changes.others, Desired::identity));
    }

    /** This state without the objects of the same kind and name as those in {@code removed}. */
    public Desired delete(Desired removed) {
        return new Desired(
                remove(namespaces, removed.namespaces, NamespaceSpec::name),
                remove(deployments, removed.deployments, DeploymentSpec::ref),
                remove(pods, removed.pods, PodSpec::ref),
                remove(services, removed.services, ServiceSpec::ref),
                remove(others, removed.others, Desired::identity));
    }

    /** Every namespace declared or holding an object, sorted: those the lab has to create. */
    public Set<String> namespacesUsed() {
        Set<String> used = new TreeSet<>();
        namespaces.forEach(n -> used.add(n.name()));
        deployments.forEach(d -> used.add(d.ref().namespace()));
        pods.forEach(p -> used.add(p.ref().namespace()));
        services.forEach(s -> used.add(s.ref().namespace()));
        others.stream().map(o -> o.ref().namespace()).filter(ns -> ns != null).forEach(used::add);
        return Collections.unmodifiableSet(used);
    }

    /**
     * How one object is named in messages and told apart from others: its kind and namespace/name; for other
     * kinds, the API group too, since two groups may define the same kind.
     */
    static String identity(Object object) {
        return switch (object) {
            case NamespaceSpec n -> "Namespace " + n.name();
            case DeploymentSpec d -> "Deployment " + d.ref();
            case PodSpec p -> "Pod " + p.ref();
            case ServiceSpec s -> "Service " + s.ref();
            case OtherObject o -> o.kind() + (o.group().isEmpty() ? "" : "." + o.group()) + " " + o.ref();
            default -> throw new IllegalArgumentException("not a manifest object: " + object);
        };
    }

    private static <T> List<T> merge(List<T> base, List<T> changes, Function<T, Object> key) {
        Map<Object, T> merged = new LinkedHashMap<>();
        base.forEach(o -> merged.put(key.apply(o), o));
        changes.forEach(o -> merged.put(key.apply(o), o));
        return new ArrayList<>(merged.values());
    }

    private static <T> List<T> remove(List<T> base, List<T> removed, Function<T, Object> key) {
        Set<Object> gone = new HashSet<>();
        removed.forEach(o -> gone.add(key.apply(o)));
        return base.stream().filter(o -> !gone.contains(key.apply(o))).toList();
    }
}
