package dev.sluice.model;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One container of a pod.
 *
 * @param image as written; may be null
 * @param readinessProbe null: ready once running (the lab also waits for the TCP ports to accept)
 * @param livenessProbe  null: never restarted for being unhealthy
 * @param env the plain {@code value} entries only: values from ConfigMaps, Secrets or fields are not resolved
 */
public record ContainerSpec(String name, String image, List<String> command, List<String> args,
                            List<ContainerPort> ports, Map<String, String> env, ProbeSpec readinessProbe,
                            ProbeSpec livenessProbe, SecuritySpec securityContext, ResourceLimits limits) {
    public ContainerSpec {
        Objects.requireNonNull(name, "name");
        command = Copies.list(command);
        args = Copies.list(args);
        ports = Copies.list(ports);
        env = Copies.map(env);
        securityContext = securityContext == null ? SecuritySpec.DEFAULT : securityContext;
        limits = limits == null ? ResourceLimits.NONE : limits;
    }

    /** A container without probes, securityContext or limits. */
    public ContainerSpec(String name, String image, List<String> command, List<String> args, List<ContainerPort> ports,
                         Map<String, String> env) {
        this(name, image, command, args, ports, env, null, null, null, null);
    }
}
