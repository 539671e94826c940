package dev.sluice.model;

import java.util.Objects;

/**
 * A port a container listens on.
 *
 * @param name null when the manifest gives none; a Service's targetPort can refer to it by name
 */
public record ContainerPort(String name, int port, Protocol protocol) {
    public ContainerPort {
        Objects.requireNonNull(protocol, "protocol");
    }
}
