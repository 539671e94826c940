package dev.sluice.policy;

import dev.sluice.model.Protocol;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Explains one new connection as the datapath decides it: for each end that is a pod, the policies whose rules
 * select it (and whether they put it in default deny), then the reference evaluator's decision for that end (the
 * client's egress, the server's ingress), naming the rule that allows or the default deny that drops. It asks the
 * same {@link ReferenceEvaluator} the agents compile the policy maps from, over the same policies and labels, so
 * what it says is what the kernel does (for new connections: an established one keeps its verdict).
 */
public final class PolicyExplainer {
    private final ReferenceEvaluator oracle;

    public PolicyExplainer(ReferenceEvaluator oracle) {
        this.oracle = Objects.requireNonNull(oracle, "oracle");
    }

    /** One end's part: who selects it, and what its policy decides. */
    public record Side(Direction direction, Peer local, List<String> selectedBy, Decision decision) {
    }

    /**
     * @param egress the client's decision, or null when the client is not a pod (no endpoint policy applies)
     * @param ingress the server's decision, or null when the server is not a pod
     */
    public record Explanation(Peer source, Peer destination, Protocol proto, int port, Side egress, Side ingress) {
        public boolean allowed() {
            return (egress == null || egress.decision().allowed()) && (ingress == null || ingress.decision().allowed());
        }

        /** The explanation as lines for a terminal. */
        public List<String> lines() {
            List<String> out = new ArrayList<>();
            out.add(source + " -> " + destination + " " + port + "/" + proto);
            for (Side side : new Side[] {egress, ingress}) {
                if (side == null) {
                    continue;
                }
                out.add(side.direction().name().toLowerCase(java.util.Locale.ROOT) + " of " + side.local() + ":");
                if (side.selectedBy().isEmpty()) {
                    out.add("  selected by no policy");
                } else {
                    side.selectedBy().forEach(s -> out.add("  selected by " + s));
                }
                out.add("  " + describe(side.decision()));
            }
            if (egress == null) {
                out.add("egress: " + source + " is not a pod of the cluster; no endpoint policy applies to it");
            }
            if (ingress == null) {
                out.add("ingress: " + destination + " is not a pod of the cluster; no endpoint policy applies to it");
            }
            out.add(allowed() ? "ALLOWED" : "DROPPED");
            return out;
        }

        private static String describe(Decision d) {
            if (d.allowed()) {
                return "ALLOW: " + d.reason();
            }
            return d.reason().equals(Decision.POLICY_DENIED)
                    ? "DROP (" + d.dropReasonCode() + " " + d.reason() + "): no rule allows it; default deny of " + d.policy() + " " + d.rule()
                    : "DROP (" + d.dropReasonCode() + " " + d.reason() + "): deny rule " + d.policy() + " " + d.rule();
        }
    }

    public Explanation explain(PolicySet policies, Peer source, Peer destination, Protocol proto, int port) {
        Side egress = source instanceof Endpoint client
                ? new Side(Direction.EGRESS, client, selectedBy(policies, client, Direction.EGRESS),
                        oracle.decide(policies, client, Direction.EGRESS, destination, proto, port))
                : null;
        Side ingress = destination instanceof Endpoint server
                ? new Side(Direction.INGRESS, server, selectedBy(policies, server, Direction.INGRESS),
                        oracle.decide(policies, server, Direction.INGRESS, source, proto, port))
                : null;
        return new Explanation(source, destination, proto, port, egress, ingress);
    }

    /** The rules whose selector selects {@code local}, with what each does in this direction. */
    static List<String> selectedBy(PolicySet policies, Endpoint local, Direction direction) {
        List<String> out = new ArrayList<>();
        for (Policy policy : policies.policies()) {
            for (PolicyRule rule : policy.rules()) {
                if (!rule.selects(local)) {
                    continue;
                }
                int allows = rule.peerRules(direction, Verdict.ALLOW).size();
                int denies = rule.peerRules(direction, Verdict.DENY).size();
                String what = rule.defaultDeny(direction) ? "default deny for " + direction.name().toLowerCase(java.util.Locale.ROOT)
                        : "no default deny for " + direction.name().toLowerCase(java.util.Locale.ROOT);
                out.add(policy.ref() + " " + rule.selectorPath() + " (" + what + ", " + allows + " allow rule(s)"
                        + (denies == 0 ? "" : ", " + denies + " deny rule(s)") + ")");
            }
        }
        return out;
    }
}
