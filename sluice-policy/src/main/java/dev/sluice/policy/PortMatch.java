package dev.sluice.policy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.Protocol;
import java.util.List;
import java.util.Objects;

/**
 * One entry of a rule's ports: a port number, a range {@code port..endPort}, every port ({@code port} 0, or a
 * NetworkPolicy port without a number), or a named port.
 *
 * @param port 1..65535, or 0 for every port; 0 when {@code name} is set
 * @param endPort the last port of a range, or 0 for a single port
 * @param name a container port name, resolved against the destination pod, or null
 */
public record PortMatch(int port, int endPort, String name, PortProtocol protocol) {
    public PortMatch {
        Objects.requireNonNull(protocol, "protocol");
        if (port < 0 || port > 65535 || (endPort != 0 && (endPort < port || endPort > 65535 || port == 0))
                || (name != null && (port != 0 || endPort != 0))) {
            throw new IllegalArgumentException("not a port match: " + port + "-" + endPort + " " + name);
        }
    }

    public static PortMatch number(int port, PortProtocol protocol) {
        return new PortMatch(port, 0, null, protocol);
    }

    public static PortMatch range(int port, int endPort, PortProtocol protocol) {
        return new PortMatch(port, endPort, null, protocol);
    }

    public static PortMatch named(String name, PortProtocol protocol) {
        return new PortMatch(0, 0, name, protocol);
    }

    /**
     * @param destinationPorts the container ports of the pod receiving the connection, against which a named port
     *                         is resolved; empty when the destination is not a pod, so a named port matches nothing
     */
    public boolean matches(Protocol protocol, int destinationPort, List<ContainerPort> destinationPorts) {
        if (!this.protocol.covers(protocol)) {
            return false;
        }
        if (name != null) {
            // A named port means the port the destination gives that name, for the protocol it serves it on.
            return destinationPorts.stream().anyMatch(p -> name.equalsIgnoreCase(p.name())
                    && p.protocol() == protocol && p.port() == destinationPort);
        }
        if (port == 0) {
            return true;
        }
        return endPort == 0 ? destinationPort == port : destinationPort >= port && destinationPort <= endPort;
    }

    @Override
    public String toString() {
        String what = name != null ? name : port == 0 ? "*" : endPort == 0 ? Integer.toString(port) : port + "-" + endPort;
        return what + "/" + protocol;
    }
}
