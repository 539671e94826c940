package dev.sluice.model;

import java.util.Objects;

/**
 * One port of a Service.
 *
 * @param name null only when it is the Service's only port
 */
public record ServicePort(String name, int port, TargetPort targetPort, Protocol protocol) {
    public ServicePort {
        Objects.requireNonNull(targetPort, "targetPort");
        Objects.requireNonNull(protocol, "protocol");
    }
}
