package dev.sluice.model;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One container of a pod.
 *
 * @param image as written; may be null
 * @param env the plain {@code value} entries only: values from ConfigMaps, Secrets or fields are not resolved
 */
public record ContainerSpec(String name, String image, List<String> command, List<String> args,
                            List<ContainerPort> ports, Map<String, String> env) {
    public ContainerSpec {
        Objects.requireNonNull(name, "name");
        command = Copies.list(command);
        args = Copies.list(args);
        ports = Copies.list(ports);
        env = Copies.map(env);
    }
}
