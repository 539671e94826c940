package dev.sluice.proxy;

import dev.sluice.l7.policy.Admitted;
import dev.sluice.l7.route.Endpoint;

import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * Whether a client may reach a backend at L4, decided before the proxy opens a stream to it: the proxy stands
 * between them, so the backend's ingress policy (which sees the proxy's node address) cannot judge the client.
 * The agent decides by the client's security identity, as the datapath would have on a direct connection.
 */
@FunctionalInterface
public interface Admission {
    /** Empty to let the request through; else why it is denied (a 403, or gRPC PERMISSION_DENIED). */
    Optional<String> deny(InetSocketAddress client, Endpoint backend);

    /**
     * The whole decision: the L4 part ({@link #deny}) and the HTTP rules that restrict what the client may send to
     * the backend (L7 policy), which the proxy applies to each request. Implementations that know L7 policy
     * override it; the default has none.
     */
    default Admitted decide(InetSocketAddress client, Endpoint backend) {
        return deny(client, backend).map(Admitted::denied).orElse(Admitted.ANY_REQUEST);
    }

    /** Everything passes: no policy in front of the proxy. */
    Admission ALL = (client, backend) -> Optional.empty();
}
