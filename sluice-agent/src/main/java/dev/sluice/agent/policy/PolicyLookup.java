package dev.sluice.agent.policy;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The policy map's lookup as bpf/include/policy.h specifies it, in Java: most specific first, a deny
 * among the matches wins, then an allow, then the endpoint's default. The agent uses it to explain a
 * verdict (`sluice policy explain`-style) and tests use it to check the compiler against the oracle;
 * the eBPF program implements the same order.
 */
public final class PolicyLookup {
    /** The outcome: allowed or not, Cilium's drop reason (133, 181; 0 when allowed), and the rule's number. */
    public record Verdict(boolean allowed, int dropReason, int ruleId) {
    }

    private record Key(int direction, int identity, int proto, int port) {
    }

    private final EndpointPolicy endpoint;
    private final Map<Key, PolicyEntry> entries = new HashMap<>();

    public PolicyLookup(EndpointPolicy endpoint) {
        this.endpoint = endpoint;
        for (PolicyEntry e : endpoint.entries()) {
            entries.put(new Key(e.direction(), e.remoteIdentity(), e.proto(), e.port()), e);
        }
    }

    public Verdict decide(int direction, int identity, int proto, int port) {
        if (endpoint.failClosed()) {
            return new Verdict(false, 133, direction == PolicyEntry.INGRESS ? endpoint.defaultDenyIngressRule() : endpoint.defaultDenyEgressRule());
        }
        List<Key> order = List.of(new Key(direction, identity, proto, port), new Key(direction, identity, proto, 0),
                new Key(direction, identity, 0, 0), new Key(direction, 0, proto, port), new Key(direction, 0, proto, 0),
                new Key(direction, 0, 0, 0));
        PolicyEntry allow = null;
        for (Key k : order) {
            PolicyEntry e = entries.get(k);
            if (e == null) {
                continue;
            }
            if (e.deny()) {
                return new Verdict(false, 181, e.ruleId());
            }
            if (allow == null) {
                allow = e;
            }
        }
        if (allow != null) {
            return new Verdict(true, 0, allow.ruleId());
        }
        boolean enforced = direction == PolicyEntry.INGRESS ? endpoint.enforceIngress() : endpoint.enforceEgress();
        if (enforced) {
            return new Verdict(false, 133, direction == PolicyEntry.INGRESS ? endpoint.defaultDenyIngressRule() : endpoint.defaultDenyEgressRule());
        }
        return new Verdict(true, 0, 0);
    }
}
