package dev.sluice.agent.l7;

import dev.sluice.agent.policy.PolicyAgent;
import dev.sluice.l7.policy.Admitted;
import dev.sluice.l7.route.Endpoint;
import dev.sluice.proxy.Admission;

import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * The proxy's admission from the agent's policy: by the client's identity (its address in the cluster view), the
 * L4 verdict the datapath would give a direct connection, and the HTTP rules of L7 policy that apply to it.
 */
public record PolicyAdmission(PolicyAgent policy) implements Admission {
    @Override
    public Admitted decide(InetSocketAddress client, Endpoint backend) {
        return policy.admitted(client.getAddress().getHostAddress(), backend.address(), backend.port());
    }

    @Override
    public Optional<String> deny(InetSocketAddress client, Endpoint backend) {
        Admitted a = decide(client, backend);
        return a.allowed() ? Optional.empty() : Optional.of(a.reason());
    }
}
