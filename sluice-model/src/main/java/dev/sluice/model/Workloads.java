package dev.sluice.model;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Deployments and Pods, checked as the API server would and turned into Sluice's model. */
final class Workloads {
    private Workloads() {
    }

    static DeploymentSpec deployment(Deployment deployment, ObjectRef ref, Source source) {
        var spec = deployment.getSpec();
        if (spec == null) {
            throw new FieldProblem("spec", "is required");
        }
        int replicas = spec.getReplicas() == null ? 1 : spec.getReplicas();
        if (replicas < 0) {
            throw new FieldProblem("spec.replicas", "must be an integer >= 0, got " + replicas);
        }
        Map<String, String> selector = selector(spec.getSelector());
        PodTemplateSpec template = spec.getTemplate();
        if (template == null) {
            throw new FieldProblem("spec.template", "is required");
        }
        Map<String, String> labels = labels(template.getMetadata());
        selector.forEach((key, value) -> {
            String field = "spec.template.metadata.labels." + key;
            if (!labels.containsKey(key)) {
                throw new FieldProblem(field, "is missing, but spec.selector.matchLabels requires " + key + "=" + value
                        + ": the Deployment would not select its own pods");
            }
            if (!labels.get(key).equals(value)) {
                throw new FieldProblem(field, "must equal spec.selector.matchLabels." + key + " (" + FieldProblem.show(value)
                        + "), got " + FieldProblem.show(labels.get(key)));
            }
        });
        return new DeploymentSpec(ref, replicas, selector, podTemplate("spec.template.spec", labels, template.getSpec()), source);
    }

    static PodSpec pod(Pod pod, ObjectRef ref, Source source) {
        PodTemplate template = podTemplate("spec", labels(pod.getMetadata()), pod.getSpec());
        return new PodSpec(ref, template, pod.getSpec().getNodeName(), source);
    }

    /** The labels of an object, a label written without a value being the empty string, as in Kubernetes. */
    static Map<String, String> labels(ObjectMeta metadata) {
        Map<String, String> labels = new LinkedHashMap<>();
        if (metadata != null && metadata.getLabels() != null) {
            metadata.getLabels().forEach((key, value) -> labels.put(key, value == null ? "" : value));
        }
        return labels;
    }

    private static Map<String, String> selector(LabelSelector selector) {
        if (selector == null || selector.getMatchLabels() == null || selector.getMatchLabels().isEmpty()) {
            throw new FieldProblem("spec.selector.matchLabels", "is required: it says which pods belong to the Deployment");
        }
        // Ignoring the expressions would make the Deployment select more pods than the user asked for.
        if (selector.getMatchExpressions() != null && !selector.getMatchExpressions().isEmpty()) {
            throw new FieldProblem("spec.selector.matchExpressions", "is not supported yet: select pods with matchLabels");
        }
        Map<String, String> labels = new LinkedHashMap<>();
        selector.getMatchLabels().forEach((key, value) -> labels.put(key, value == null ? "" : value));
        return labels;
    }

    /** @param at the path of the pod spec: {@code spec.template.spec} in a Deployment, {@code spec} in a Pod */
    private static PodTemplate podTemplate(String at, Map<String, String> labels, io.fabric8.kubernetes.api.model.PodSpec spec) {
        if (spec == null) {
            throw new FieldProblem(at, "is required");
        }
        List<Container> containers = spec.getContainers() == null ? List.of() : spec.getContainers();
        if (containers.isEmpty()) {
            throw new FieldProblem(at + ".containers", "must list at least one container");
        }
        List<ContainerSpec> result = new ArrayList<>();
        Set<String> names = new HashSet<>();
        RestartPolicy restartPolicy = restartPolicy(at + ".restartPolicy", spec.getRestartPolicy());
        if (at.equals("spec.template.spec") && restartPolicy != RestartPolicy.ALWAYS) {
            throw new FieldProblem(at + ".restartPolicy", "must be Always in a Deployment (as the API server requires), got "
                    + FieldProblem.show(spec.getRestartPolicy()));
        }
        for (int i = 0; i < containers.size(); i++) {
            ContainerSpec container = container(at + ".containers[" + i + "]", containers.get(i), at, spec.getSecurityContext());
            if (!names.add(container.name())) {
                throw new FieldProblem(at + ".containers[" + i + "].name",
                        "must be unique in the pod: " + FieldProblem.show(container.name()) + " is used twice");
            }
            result.add(container);
        }
        return new PodTemplate(labels, result, restartPolicy);
    }

    private static RestartPolicy restartPolicy(String field, String policy) {
        if (policy == null) {
            return RestartPolicy.ALWAYS;
        }
        for (RestartPolicy p : RestartPolicy.values()) {
            if (p.manifestName().equals(policy)) {
                return p;
            }
        }
        throw new FieldProblem(field, "must be Always, OnFailure or Never, got " + FieldProblem.show(policy));
    }

    private static ContainerSpec container(String at, Container container, String podAt,
                                           io.fabric8.kubernetes.api.model.PodSecurityContext podSecurity) {
        if (container.getName() == null || container.getName().isBlank()) {
            throw new FieldProblem(at + ".name", "is required");
        }
        List<ContainerPort> ports = new ArrayList<>();
        var declared = container.getPorts() == null ? List.<io.fabric8.kubernetes.api.model.ContainerPort>of() : container.getPorts();
        for (int i = 0; i < declared.size(); i++) {
            var port = declared.get(i);
            String field = at + ".ports[" + i + "]";
            int number = Ports.number(field + ".containerPort", port.getContainerPort());
            ports.add(new ContainerPort(port.getName(), number, Ports.protocol(field + ".protocol", port.getProtocol())));
        }
        Map<String, String> env = new LinkedHashMap<>();
        List<EnvVar> vars = container.getEnv() == null ? List.of() : container.getEnv();
        for (int i = 0; i < vars.size(); i++) {
            EnvVar variable = vars.get(i);
            if (variable.getName() == null || variable.getName().isEmpty()) {
                throw new FieldProblem(at + ".env[" + i + "].name", "is required");
            }
            // Values from ConfigMaps, Secrets and the downward API need a cluster to resolve them: left out.
            if (variable.getValueFrom() == null) {
                env.put(variable.getName(), variable.getValue() == null ? "" : variable.getValue());
            }
        }
        return new ContainerSpec(container.getName(), container.getImage(), container.getCommand(), container.getArgs(), ports, env,
                Probes.probe(at + ".readinessProbe", container.getReadinessProbe(), ports, false),
                Probes.probe(at + ".livenessProbe", container.getLivenessProbe(), ports, true),
                Security.context(at, container.getSecurityContext(), podAt, podSecurity),
                Security.limits(at, container.getResources()));
    }
}
