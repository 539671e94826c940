package dev.sluice.policy;

import dev.sluice.model.Protocol;

/** The protocol a port rule names; {@code ANY} (Cilium's default) covers TCP, UDP and SCTP. */
public enum PortProtocol {
    TCP, UDP, SCTP, ANY;

    public boolean covers(Protocol protocol) {
        return this == ANY || name().equals(protocol.name());
    }
}
