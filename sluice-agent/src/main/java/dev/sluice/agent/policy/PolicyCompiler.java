package dev.sluice.agent.policy;

import dev.sluice.model.ContainerPort;
import dev.sluice.model.Protocol;
import dev.sluice.policy.Cidr;
import dev.sluice.policy.Decision;
import dev.sluice.policy.Direction;
import dev.sluice.policy.Endpoint;
import dev.sluice.policy.Identity;
import dev.sluice.policy.Peer;
import dev.sluice.policy.Policy;
import dev.sluice.policy.PolicyRule;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.PortMatch;
import dev.sluice.policy.PeerRule;
import dev.sluice.policy.PortRule;
import dev.sluice.policy.ReferenceEvaluator;
import dev.sluice.policy.ReservedIdentity;
import dev.sluice.policy.Verdict;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Compiles policies into policy-map entries by asking the reference evaluator, the oracle, at every point
 * that can differ: each known peer identity, each destination port that a rule or a pod names, and one
 * port that nothing names (which stands for all such ports, since no rule tells them apart), for TCP, UDP
 * and SCTP, and a protocol without ports (ICMP, 253 ...), which only L3-only rules decide. Only what differs
 * from the default is written: an any-protocol entry {id,0,0} for the protocols without ports, a
 * wildcard-port entry where a protocol's unnamed ports are decided otherwise, and an exact-port entry where
 * a named port decides otherwise than the protocol's unnamed ones.
 *
 * <p>Why this way: the datapath's own semantics (wildcards, deny before allow, default deny) are then
 * the only thing a differential test of the datapath against the oracle can catch, and this compiler
 * cannot drift from the language's semantics. The cost is peers × ports × 3 evaluations per endpoint
 * and direction, which is small at the scale of a node.
 */
public final class PolicyCompiler {
    /** Beyond this many distinct named ports the entries are not written; the endpoint fails closed instead. */
    public static final int MAX_PORTS = 4096;
    private static final List<ReservedIdentity> RESERVED_PEERS = List.of(ReservedIdentity.HOST, ReservedIdentity.WORLD,
            ReservedIdentity.REMOTE_NODE, ReservedIdentity.KUBE_APISERVER, ReservedIdentity.HEALTH, ReservedIdentity.INIT,
            ReservedIdentity.UNMANAGED, ReservedIdentity.INGRESS);

    private final ReferenceEvaluator oracle;
    private final RuleTable rules;

    public PolicyCompiler(ReferenceEvaluator oracle, RuleTable rules) {
        this.oracle = oracle;
        this.rules = rules;
    }

    /** A peer as the datapath knows it: an identity, and a representative the oracle can judge. */
    record KnownPeer(int identity, Peer peer) {
    }

    /**
     * @param local      the endpoints of this node, each with the endpoint id the datapath uses
     * @param cluster    every endpoint of the cluster (peers)
     * @param cidrs      the identity of each CIDR the policies name (from the allocator)
     */
    public List<EndpointPolicy> compile(PolicySet policies, Map<Endpoint, Integer> local, List<Endpoint> cluster,
                                        Map<Cidr, Identity> cidrs) {
        return compile(policies, local, cluster, Map.of(), cidrs);
    }

    /**
     * @param split the pods whose peer identity is not their label identity ({@link dev.sluice.policy.PeerIdentities}):
     *              each such identity is a peer of its own, judged by one of its pods (address included)
     */
    public List<EndpointPolicy> compile(PolicySet policies, Map<Endpoint, Integer> local, List<Endpoint> cluster,
                                        Map<Endpoint, Identity> split, Map<Cidr, Identity> cidrs) {
        List<KnownPeer> peers = peers(cluster, split, cidrs);
        TreeSet<Integer> namedPorts = namedPorts(policies, cluster);
        List<EndpointPolicy> out = new ArrayList<>();
        Map<Inputs, EndpointPolicy> reused = new java.util.HashMap<>();
        for (Map.Entry<Endpoint, Integer> e : local.entrySet()) {
            Inputs inputs = new Inputs(policies, e.getKey(), e.getValue(), peers, namedPorts);
            EndpointPolicy compiled = last.get(inputs);
            if (compiled == null) {
                compiled = compile(policies, e.getKey(), e.getValue(), peers, namedPorts);
            }
            reused.put(inputs, compiled);
            out.add(compiled);
        }
        last = reused;
        return out;
    }

    /**
     * Everything an endpoint's entries depend on. A change elsewhere (a pod added on another node with an
     * identity that already exists, a Service) leaves an endpoint's inputs equal, and its entries are
     * taken from the last compilation instead of asking the oracle again.
     */
    private record Inputs(PolicySet policies, Endpoint local, int endpointId, List<KnownPeer> peers, TreeSet<Integer> namedPorts) {
    }

    private Map<Inputs, EndpointPolicy> last = Map.of();

    private EndpointPolicy compile(PolicySet policies, Endpoint local, int endpointId, List<KnownPeer> peers, TreeSet<Integer> namedPorts) {
        int[] defaultRule = new int[2];
        boolean[] enforce = new boolean[2];
        for (Direction d : Direction.values()) {
            int i = index(d);
            for (Policy p : policies.policies()) {
                for (PolicyRule r : p.rules()) {
                    if (!enforce[i] && r.selects(local) && r.defaultDeny(d)) {
                        enforce[i] = true;
                        defaultRule[i] = rules.id(p.ref(), r.selectorPath());
                    }
                }
            }
        }
        boolean anySelects = policies.policies().stream().flatMap(p -> p.rules().stream()).anyMatch(r -> r.selects(local));
        if (!anySelects) {
            return new EndpointPolicy(local.name(), endpointId, local.identity().id(), false, false, 0, 0, false, List.of());
        }
        if (namedPorts.size() > MAX_PORTS) {
            return new EndpointPolicy(local.name(), endpointId, local.identity().id(), enforce[0], enforce[1], defaultRule[0], defaultRule[1],
                    true, List.of());
        }
        int other = otherPort(namedPorts);
        List<PolicyEntry> entries = new ArrayList<>();
        for (Direction d : Direction.values()) {
            int dir = index(d);
            for (KnownPeer peer : peers) {
                // Every protocol first: what a protocol without ports gets (only L3-only rules decide it), as
                // the any-protocol entry {id,0,0}, which the datapath looks up after the protocol's own.
                Decision any = oracle.decideWithoutPorts(policies, local, d, peer.peer());
                PolicyEntry anyEntry = entry(endpointId, dir, peer.identity(), 0, 0, any, enforce[dir]);
                if (anyEntry != null) {
                    entries.add(anyEntry);
                }
                for (Protocol proto : List.of(Protocol.TCP, Protocol.UDP, Protocol.SCTP)) {
                    int protoNumber = switch (proto) {
                        case TCP -> dev.sluice.datapath.abi.Protocol.TCP.value();
                        case UDP -> dev.sluice.datapath.abi.Protocol.UDP.value();
                        case SCTP -> dev.sluice.datapath.abi.Protocol.SCTP.value();
                    };
                    Decision base = oracle.decide(policies, local, d, peer.peer(), proto, other);
                    // Where the protocol's unnamed ports are decided as any protocol is, {id,0,0} already says so.
                    PolicyEntry wildcard = sameOutcome(any, base) ? null : entry(endpointId, dir, peer.identity(), protoNumber, 0, base, enforce[dir]);
                    if (wildcard != null) {
                        entries.add(wildcard);
                    }
                    for (int port : namedPorts) {
                        Decision exact = oracle.decide(policies, local, d, peer.peer(), proto, port);
                        if (!sameOutcome(base, exact)) {
                            PolicyEntry e = entry(endpointId, dir, peer.identity(), protoNumber, port, exact, enforce[dir]);
                            if (e != null) {
                                entries.add(e);
                            }
                        }
                    }
                }
            }
        }
        return new EndpointPolicy(local.name(), endpointId, local.identity().id(), enforce[0], enforce[1], defaultRule[0], defaultRule[1],
                false, List.copyOf(entries));
    }

    // What the datapath must hold for a decision: a deny entry for a denylist drop, an allow entry for an
    // allow in force under default deny; nothing where the default (pass, or default deny) already decides.
    private PolicyEntry entry(int endpointId, int dir, int identity, int proto, int port, Decision d, boolean enforced) {
        if (d.verdict() == Verdict.DENY && Decision.POLICY_DENIED_BY_DENYLIST.equals(d.reason())) {
            return new PolicyEntry(endpointId, dir, identity, proto, port, true, rules.id(d.policy(), d.rule()));
        }
        if (d.verdict() == Verdict.ALLOW && enforced) {
            return new PolicyEntry(endpointId, dir, identity, proto, port, false, rules.id(d.policy(), d.rule()));
        }
        return null;
    }

    private static boolean sameOutcome(Decision a, Decision b) {
        return a.verdict() == b.verdict() && java.util.Objects.equals(a.reason(), b.reason())
                && java.util.Objects.equals(a.policy(), b.policy()) && java.util.Objects.equals(a.rule(), b.rule());
    }

    /** The datapath's number for a direction (also the index of enforce[] and defaultRule[]). */
    static int index(Direction d) {
        return (d == Direction.INGRESS ? dev.sluice.datapath.abi.Direction.INGRESS : dev.sluice.datapath.abi.Direction.EGRESS).value();
    }

    /** Every peer identity the datapath can see: pods (one per identity), reserved identities, CIDR identities. */
    static List<KnownPeer> peers(List<Endpoint> cluster, Map<Cidr, Identity> cidrs) {
        return peers(cluster, Map.of(), cidrs);
    }

    /**
     * The same, each pod under its peer identity: {@code split}'s where it has one, else its label identity. All
     * pods of one peer identity are alike to every rule (same labels, covered by the same pod-selecting CIDRs), so
     * any one of them stands for the rest.
     */
    static List<KnownPeer> peers(List<Endpoint> cluster, Map<Endpoint, Identity> split, Map<Cidr, Identity> cidrs) {
        Map<Integer, KnownPeer> byIdentity = new LinkedHashMap<>();
        for (Endpoint e : cluster) {
            int id = split.getOrDefault(e, e.identity()).id();
            byIdentity.putIfAbsent(id, new KnownPeer(id, e));
        }
        for (ReservedIdentity r : RESERVED_PEERS) {
            byIdentity.putIfAbsent(r.id(), new KnownPeer(r.id(), new Peer.Reserved(r)));
        }
        for (Map.Entry<Cidr, Identity> c : cidrs.entrySet()) {
            representative(c.getKey(), cidrs.keySet()).ifPresent(address ->
                    byIdentity.putIfAbsent(c.getValue().id(), new KnownPeer(c.getValue().id(), new Peer.External(address))));
        }
        return List.copyOf(byIdentity.values());
    }

    /**
     * An address of {@code cidr} that no more specific CIDR of the set contains: the ipcache gives it this
     * CIDR's identity, so the oracle's verdict for it is the verdict for the identity.
     */
    static java.util.Optional<Inet4Address> representative(Cidr cidr, java.util.Set<Cidr> all) {
        if (!(cidr.network() instanceof Inet4Address network)) {
            return java.util.Optional.empty();
        }
        long base = Integer.toUnsignedLong(java.nio.ByteBuffer.wrap(network.getAddress()).getInt());
        long size = 1L << (32 - cidr.prefixLength());
        for (long offset : new long[] {0, size - 1, size / 2, size / 4, 3 * size / 4, 1, size - 2}) {
            if (offset < 0 || offset >= size) {
                continue;
            }
            Inet4Address candidate = address(base + offset);
            boolean inMoreSpecific = all.stream().anyMatch(o -> o.prefixLength() > cidr.prefixLength() && o.contains(candidate));
            if (!inMoreSpecific) {
                return java.util.Optional.of(candidate);
            }
        }
        return java.util.Optional.empty();
    }

    private static Inet4Address address(long value) {
        byte[] b = {(byte) (value >>> 24), (byte) (value >>> 16), (byte) (value >>> 8), (byte) value};
        try {
            return (Inet4Address) InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** Ports any rule names (ranges expanded) and every container port (for named ports). */
    static TreeSet<Integer> namedPorts(PolicySet policies, List<Endpoint> cluster) {
        TreeSet<Integer> ports = new TreeSet<>();
        for (Policy p : policies.policies()) {
            for (PolicyRule r : p.rules()) {
                for (PeerRule pr : r.peerRules()) {
                    for (PortRule portRule : pr.toPorts()) {
                        for (PortMatch m : portRule.ports()) {
                            if (m.port() > 0) {
                                int end = Math.max(m.port(), m.endPort());
                                for (int port = m.port(); port <= end && ports.size() <= MAX_PORTS; port++) {
                                    ports.add(port);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (Endpoint e : cluster) {
            for (ContainerPort cp : e.ports()) {
                ports.add(cp.port());
            }
        }
        return ports;
    }

    /** The lowest port that nothing names: it stands for every such port. */
    static int otherPort(TreeSet<Integer> named) {
        int port = 1;
        while (named.contains(port)) {
            port++;
        }
        return port;
    }
}
