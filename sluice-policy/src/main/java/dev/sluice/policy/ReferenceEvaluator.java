package dev.sluice.policy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.Protocol;
import java.util.List;
import java.util.Objects;

/**
 * The oracle: decides a new connection by walking every rule of every policy, in the order they were read. It is
 * deliberately naive; the eBPF datapath compiles the same policies into maps and is tested against it.
 *
 * <p>Semantics are Cilium's. An endpoint selected, for a direction, by a rule that puts it in default deny
 * accepts in that direction only what some rule allows; an endpoint no such rule selects accepts everything.
 * Deny rules win over allow rules, and apply whether or not the endpoint is in default deny. A rule without
 * {@code toPorts} covers every IP protocol; one with {@code toPorts} only TCP, UDP and SCTP as it names them
 * ({@link #decideIp}). Only new
 * connections are decided here: replies of allowed connections always pass, which is connection tracking's job
 * in the datapath.
 *
 * <p>L7 (HTTP) rules: {@link #decide} is the datapath's view, in which a peer allowed on an ingress port only with
 * HTTP rules is not allowed directly (it must go through the node proxy) and the proxies (host, remote-node) are
 * allowed on that port instead; {@link #decideProxied}, {@link #httpRules} and {@link #decideHttp} are the
 * proxy's view, Cilium's semantics (docs/l7.md, "L7 policy").
 */
public final class ReferenceEvaluator {
    /** Cilium's {@code allow-localhost} setting. */
    public enum LocalHost {
        /**
         * The local host reaches local pods whatever their ingress policy (Cilium's default in Kubernetes, where
         * kubelet probes must work); deny rules naming the host still win.
         */
        ALWAYS_ALLOWED,
        /** The host is a peer like any other. */
        BY_POLICY
    }

    private final LocalHost localHost;

    public ReferenceEvaluator(LocalHost localHost) {
        this.localHost = Objects.requireNonNull(localHost, "localHost");
    }

    /** Cilium's behaviour in a Kubernetes cluster. */
    public static ReferenceEvaluator kubernetesDefaults() {
        return new ReferenceEvaluator(LocalHost.ALWAYS_ALLOWED);
    }

    /**
     * @param local the pod whose policy is enforced: the destination for {@link Direction#INGRESS}, the source
     *              for {@link Direction#EGRESS}
     * @param port the destination port, 1..65535
     */
    public Decision decide(PolicySet policies, Endpoint local, Direction direction, Peer remote, Protocol proto, int port) {
        Objects.requireNonNull(proto, "proto");
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("destination port must be 1..65535, got " + port);
        }
        return decideAny(policies, local, direction, remote, proto, port);
    }

    /**
     * A new flow of any IP protocol. TCP (6), UDP (17) and SCTP (132) are decided by {@code port}, as
     * {@link #decide}; every other protocol (ICMP, GRE, 253 ...) has no port, and only a rule without
     * {@code toPorts} (an L3-only rule, which admits every protocol) matches it: a rule with {@code toPorts}
     * allows, or denies, only the protocols and ports it names.
     *
     * @param port the destination port for TCP, UDP and SCTP, 0..65535 (a packet may carry port 0, which only a rule
     *             for every port of its protocol, or an L3-only rule, matches); ignored for the others
     */
    public Decision decideIp(PolicySet policies, Endpoint local, Direction direction, Peer remote, int ipProtocol, int port) {
        Protocol proto = transport(ipProtocol);
        if (proto == null) {
            return decideWithoutPorts(policies, local, direction, remote);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("destination port must be 0..65535, got " + port);
        }
        return decideAny(policies, local, direction, remote, proto, port);
    }

    /** A new flow of a protocol without ports (neither TCP, UDP nor SCTP): only L3-only rules match it. */
    public Decision decideWithoutPorts(PolicySet policies, Endpoint local, Direction direction, Peer remote) {
        return decideAny(policies, local, direction, remote, null, 0);
    }

    /** The transport protocol with ports an IP protocol number is, or null (one policy cannot name by port). */
    public static Protocol transport(int ipProtocol) {
        return switch (ipProtocol) {
            case 6 -> Protocol.TCP;
            case 17 -> Protocol.UDP;
            case 132 -> Protocol.SCTP;
            default -> null;
        };
    }

    /** {@code proto} null: a protocol without ports. */
    private Decision decideAny(PolicySet policies, Endpoint local, Direction direction, Peer remote, Protocol proto, int port) {
        return decideAny(policies, local, direction, remote, proto, port, false);
    }

    /** @param proxied judge the connection the node proxy makes on the peer's behalf (L7 allows admit the peer) */
    private Decision decideAny(PolicySet policies, Endpoint local, Direction direction, Peer remote, Protocol proto, int port,
                               boolean proxied) {
        Objects.requireNonNull(remote, "remote");
        List<ContainerPort> destinationPorts = switch (direction) {
            case INGRESS -> local.ports();
            case EGRESS -> remote instanceof Endpoint destination ? destination.ports() : List.of();
        };

        for (Policy policy : policies.policies()) {
            for (PolicyRule rule : policy.rules()) {
                if (!rule.selects(local)) {
                    continue;
                }
                for (PeerRule deny : rule.peerRules(direction, Verdict.DENY)) {
                    if (matches(deny, remote, proto, port, destinationPorts, false)) {
                        return new Decision(Verdict.DENY, Decision.POLICY_DENIED_BY_DENYLIST, policy.ref(), deny.path());
                    }
                }
            }
        }

        Selection defaultDeny = firstDefaultDeny(policies, local, direction);
        if (defaultDeny == null) {
            return new Decision(Verdict.ALLOW, withoutDefaultDeny(policies, local, direction), null, null);
        }

        if (direction == Direction.INGRESS && localHost == LocalHost.ALWAYS_ALLOWED
                && remote.equals(new Peer.Reserved(ReservedIdentity.HOST))) {
            return new Decision(Verdict.ALLOW, "the local host may always reach local endpoints (allow-localhost)", null, null);
        }

        // Two passes so that an allow without L7 rules is named before one with: when both match, the proxy
        // lets everything through on that port, so the plain allow is the true reason.
        for (boolean withL7 : new boolean[] {false, true}) {
            for (Policy policy : policies.policies()) {
                for (PolicyRule rule : policy.rules()) {
                    if (!rule.selects(local)) {
                        continue;
                    }
                    for (PeerRule allow : rule.peerRules(direction, Verdict.ALLOW)) {
                        if (!matches(allow, remote, proto, port, destinationPorts, withL7)) {
                            continue;
                        }
                        if (withL7 && direction == Direction.INGRESS && !proxied && httpOn(allow, proto, port, destinationPorts)) {
                            // Sluice's deviation from Cilium (docs/l7.md): a peer allowed only with HTTP rules
                            // reaches the port through the node proxy, never directly, so a connection to the pod's
                            // address cannot skip the rules. It falls to the default deny (which the rule's policy
                            // is in: the parser refuses HTTP rules beside enableDefaultDeny.ingress false), as the
                            // datapath reports it.
                            continue;
                        }
                        String l7 = withL7 ? "; its L7 rules then apply to what is said on the connection" : "";
                        return new Decision(Verdict.ALLOW, "allowed by " + policy.ref() + " " + allow.path() + l7,
                                policy.ref(), allow.path());
                    }
                }
            }
        }
        if (direction == Direction.INGRESS && !proxied && proto != null
                && (remote.equals(new Peer.Reserved(ReservedIdentity.HOST)) || remote.equals(new Peer.Reserved(ReservedIdentity.REMOTE_NODE)))) {
            Selection l7 = httpRuleOnPort(policies, local, proto, port, destinationPorts);
            if (l7 != null) {
                return new Decision(Verdict.ALLOW, "the node proxies reach a port with HTTP rules (" + l7.policy().ref()
                        + "); they admitted the caller by its identity and enforce the rules", null, null);
            }
        }
        return new Decision(Verdict.DENY, Decision.POLICY_DENIED, defaultDeny.policy().ref(), defaultDeny.rule().selectorPath());
    }

    /**
     * The connection the node proxy opens to {@code local} on behalf of {@code remote} (TCP): the ingress decision
     * as Cilium makes it, where an allow with L7 rules admits the peer (what it may say is {@link #httpRules}'s).
     * The connection itself comes from a node (host or remote-node), which the datapath admits on such ports.
     */
    public Decision decideProxied(PolicySet policies, Endpoint local, Peer remote, int port) {
        return decideAny(policies, local, Direction.INGRESS, remote, Protocol.TCP, port, true);
    }

    /** An HTTP rule and the policy that wrote it. */
    public record AppliedHttpRule(PolicyRef policy, HttpRule rule) {
    }

    /**
     * The HTTP rules that restrict what {@code remote} may send to {@code local} on TCP {@code port}: any one
     * allows a request (rules of one port are ORed). Empty when nothing restricts it: the peer is allowed on the
     * port by a rule without L7 rules (a wildcard at L7), or by no rule with HTTP rules. Whether the peer may
     * connect at all is {@link #decideProxied}'s.
     */
    public List<AppliedHttpRule> httpRules(PolicySet policies, Endpoint local, Peer remote, int port) {
        Objects.requireNonNull(remote, "remote");
        List<AppliedHttpRule> out = new java.util.ArrayList<>();
        for (boolean withL7 : new boolean[] {false, true}) {
            for (Policy policy : policies.policies()) {
                for (PolicyRule rule : policy.rules()) {
                    if (!rule.selects(local)) {
                        continue;
                    }
                    for (PeerRule allow : rule.peerRules(Direction.INGRESS, Verdict.ALLOW)) {
                        if (!matches(allow, remote, Protocol.TCP, port, local.ports(), withL7)) {
                            continue;
                        }
                        if (!withL7) {
                            return List.of();
                        }
                        for (PortRule p : allow.toPorts()) {
                            if (p.hasHttp() && p.matches(Protocol.TCP, port, local.ports())) {
                                p.http().forEach(h -> out.add(new AppliedHttpRule(policy.ref(), h)));
                            }
                        }
                    }
                }
            }
        }
        return List.copyOf(out);
    }

    /**
     * One HTTP request (gRPC included: {@link HttpRequest#grpc}) from {@code remote} to {@code local} on TCP
     * {@code port}, through the node proxy: denied at L4 as {@link #decideProxied} says, else allowed when no HTTP
     * rule restricts the peer or one of those that do matches; else denied naming the first policy whose rules
     * apply.
     */
    public Decision decideHttp(PolicySet policies, Endpoint local, Peer remote, int port, HttpRequest request) {
        Decision l4 = decideProxied(policies, local, remote, port);
        if (!l4.allowed()) {
            return l4;
        }
        List<AppliedHttpRule> rules = httpRules(policies, local, remote, port);
        if (rules.isEmpty()) {
            return l4;
        }
        for (AppliedHttpRule r : rules) {
            if (r.rule().matches(request)) {
                return new Decision(Verdict.ALLOW, "allowed by " + r.policy() + " " + r.rule().rule(), r.policy(), r.rule().rule());
            }
        }
        AppliedHttpRule first = rules.getFirst();
        return new Decision(Verdict.DENY, Decision.POLICY_DENIED, first.policy(), httpList(first.rule().rule()));
    }

    /**
     * Whether some ingress rule selecting {@code local} has HTTP rules on TCP {@code port}: then the port is reached
     * through the node proxy (a Service port targeting it is redirected there), whoever the peer.
     */
    public boolean hasHttpRules(PolicySet policies, Endpoint local, int port) {
        return httpRuleOnPort(policies, local, Protocol.TCP, port, local.ports()) != null;
    }

    /** {@code spec.ingress[0].toPorts[0].rules.http[1]} -> {@code spec.ingress[0].toPorts[0].rules.http}. */
    private static String httpList(String rulePath) {
        int bracket = rulePath.lastIndexOf('[');
        return bracket > 0 && rulePath.endsWith("]") ? rulePath.substring(0, bracket) : rulePath;
    }

    /** Whether the allow rule reaches this port through an entry with HTTP rules. */
    private static boolean httpOn(PeerRule allow, Protocol proto, int port, List<ContainerPort> destinationPorts) {
        return allow.toPorts().stream().anyMatch(p -> p.hasHttp() && p.matches(proto, port, destinationPorts));
    }

    /** The first ingress allow rule selecting {@code local} with HTTP rules on this port, whatever its peers. */
    private static Selection httpRuleOnPort(PolicySet policies, Endpoint local, Protocol proto, int port,
                                            List<ContainerPort> destinationPorts) {
        for (Policy policy : policies.policies()) {
            for (PolicyRule rule : policy.rules()) {
                if (!rule.selects(local)) {
                    continue;
                }
                for (PeerRule allow : rule.peerRules(Direction.INGRESS, Verdict.ALLOW)) {
                    if (httpOn(allow, proto, port, destinationPorts)) {
                        return new Selection(policy, rule);
                    }
                }
            }
        }
        return null;
    }

    /**
     * Both ends of a connection between two pods: the client's egress and the server's ingress must each allow it.
     */
    public ConnectionDecision decideConnection(PolicySet policies, Endpoint client, Endpoint server, Protocol proto, int port) {
        return new ConnectionDecision(decide(policies, client, Direction.EGRESS, server, proto, port),
                decide(policies, server, Direction.INGRESS, client, proto, port));
    }

    /** A rule of a policy that selected the local endpoint. */
    private record Selection(Policy policy, PolicyRule rule) {
    }

    /** The first rule that selects {@code local} and puts it in default deny for {@code direction}, or null. */
    private static Selection firstDefaultDeny(PolicySet policies, Endpoint local, Direction direction) {
        for (Policy policy : policies.policies()) {
            for (PolicyRule rule : policy.rules()) {
                if (rule.selects(local) && rule.defaultDeny(direction)) {
                    return new Selection(policy, rule);
                }
            }
        }
        return null;
    }

    /** Why an endpoint in no default deny accepts everything: no policy selects it, or none that does denies by default. */
    private static String withoutDefaultDeny(PolicySet policies, Endpoint local, Direction direction) {
        for (Policy policy : policies.policies()) {
            for (PolicyRule rule : policy.rules()) {
                if (rule.selects(local) && !rule.peerRules(direction, Verdict.ALLOW).isEmpty()) {
                    return policy.ref() + " " + rule.selectorPath() + " selects this endpoint for " + direction
                            + " but sets enableDefaultDeny." + direction + " to false, and no policy puts it in default deny";
                }
            }
        }
        return "no policy selects this endpoint for " + direction;
    }

    /**
     * @param withL7 match only port entries carrying L7 rules (true) or only those without (false); deny rules
     *               carry none, so they are matched with false
     */
    private static boolean matches(PeerRule rule, Peer remote, Protocol proto, int port,
                                   List<ContainerPort> destinationPorts, boolean withL7) {
        boolean peerMatches = rule.peers().stream().anyMatch(peer -> matches(peer, remote));
        if (!peerMatches) {
            return false;
        }
        if (rule.toPorts().isEmpty()) {
            return !withL7;
        }
        if (proto == null) {
            return false; // a protocol without ports: no port rule names it
        }
        return rule.toPorts().stream()
                .anyMatch(p -> p.hasL7() == withL7 && p.matches(proto, port, destinationPorts));
    }

    private static boolean matches(PeerMatch peer, Peer remote) {
        return switch (peer) {
            case EndpointSelector selector -> selector.matches(remote.labels());
            case Entity entity -> entity.matches(remote.labels());
            case CidrRule cidr -> switch (remote) {
                case Peer.External external -> cidr.matches(external.address());
                // The world identity stands for every outside address no CIDR of any policy covers, so only a
                // rule that takes all of IPv4 can be sure to cover it.
                case Peer.Reserved(ReservedIdentity identity) ->
                        identity == ReservedIdentity.WORLD && cidr.cidr().isIpv4() && cidr.cidr().prefixLength() == 0;
                // Only a NetworkPolicy ipBlock (or an opted-in Cilium CIDR) takes in a pod, by its address.
                case Endpoint pod -> cidr.matches(pod);
            };
        };
    }
}
