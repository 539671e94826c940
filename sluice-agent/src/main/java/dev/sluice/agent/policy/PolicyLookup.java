package dev.sluice.agent.policy;

import dev.sluice.datapath.abi.Direction;
import dev.sluice.datapath.abi.DropReason;
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
    /** The outcome: allowed or not, Cilium's drop reason ({@link DropReason} value; 0 when allowed), and the rule's number. */
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

    /** {@code direction} and {@code proto} are wire values ({@link Direction}, {@link dev.sluice.datapath.abi.Protocol}). */
    public Verdict decide(int direction, int identity, int proto, int port) {
        if (endpoint.failClosed()) {
            return new Verdict(false, DropReason.POLICY.value(), defaultDenyRule(direction));
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
                return new Verdict(false, DropReason.POLICY_DENY.value(), e.ruleId());
            }
            if (allow == null) {
                allow = e;
            }
        }
        if (allow != null) {
            return new Verdict(true, 0, allow.ruleId());
        }
        boolean enforced = direction == Direction.INGRESS.value() ? endpoint.enforceIngress() : endpoint.enforceEgress();
        if (enforced) {
            return new Verdict(false, DropReason.POLICY.value(), defaultDenyRule(direction));
        }
        return new Verdict(true, 0, 0);
    }

    private int defaultDenyRule(int direction) {
        return direction == Direction.INGRESS.value() ? endpoint.defaultDenyIngressRule() : endpoint.defaultDenyEgressRule();
    }
}
