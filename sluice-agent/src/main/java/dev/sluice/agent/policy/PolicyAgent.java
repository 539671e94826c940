package dev.sluice.agent.policy;

import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.libbpf.Lpm;
import dev.sluice.linux.Libc;
import dev.sluice.model.ManifestException;
import dev.sluice.model.OtherObject;
import dev.sluice.model.cluster.ClusterView;
import dev.sluice.model.cluster.ClusterView.Pod;
import dev.sluice.policy.Cidr;
import dev.sluice.policy.ClusterPolicy;
import dev.sluice.policy.Endpoint;
import dev.sluice.policy.Identity;
import dev.sluice.policy.IdentityAllocator;
import dev.sluice.policy.Labels;
import dev.sluice.policy.PeerIdentities;
import dev.sluice.policy.Policy;
import dev.sluice.policy.PolicyParser;
import dev.sluice.policy.PolicySet;
import dev.sluice.policy.ReferenceEvaluator;
import dev.sluice.policy.ReservedIdentity;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Network policy for one node: the cluster view in, the node's policy datapath out. Policies that
 * cannot be read are reported and left out, and the last good version of such a policy stays in force,
 * so a broken edit never opens or closes anything by itself.
 */
public final class PolicyAgent {
    private final String node;
    private final dev.sluice.agent.api.Identities.Store identities;
    private final PolicyDatapath datapath;
    private final RuleTable rules = new RuleTable();
    private final ReferenceEvaluator oracle = ReferenceEvaluator.kubernetesDefaults();
    private final PolicyCompiler compiler = new PolicyCompiler(oracle, rules);

    /** What the last sync saw, for decisions outside the datapath (the L7 proxy's admission). */
    private record Snapshot(PolicySet policies, Map<String, Endpoint> podsByIp, String localNode, java.util.Set<String> nodeIps,
                            String localNodeIp, String gateway, java.util.Set<String> localPodIps) {
    }

    private volatile Snapshot snapshot;
    /** Whether the node routes replies to the proxy's client-source connections (ProxyReplyRouting installed). */
    private volatile boolean clientSourceForwarding;
    /** Bumped with every new snapshot: the L7 proxy caches admission answers only for the revision they were given at. */
    private final java.util.concurrent.atomic.AtomicLong revision = new java.util.concurrent.atomic.AtomicLong();
    private volatile java.util.function.LongConsumer revisionListener = r -> { };

    /** The revision of the policy state {@link #denies} decides by. */
    public long revision() {
        return revision.get();
    }

    /** Told every new revision, after the state it names is in force for {@link #denies}. */
    public void onRevision(java.util.function.LongConsumer listener) {
        this.revisionListener = listener;
    }

    /**
     * Whether a connection from {@code clientIp} to the pod at {@code backendIp}:{@code port} (TCP) is allowed by
     * network policy, both the client's egress and the backend's ingress, as the datapath would decide a direct
     * connection: for the L7 proxy, which stands between them. Empty if allowed; else why not. Thread-safe.
     */
    public java.util.Optional<String> denies(String clientIp, String backendIp, int port) {
        Snapshot s = snapshot;
        if (s == null) {
            return java.util.Optional.of("no policy state yet");
        }
        Endpoint backend = s.podsByIp().get(backendIp);
        if (backend == null) {
            return java.util.Optional.empty(); // not a pod: no endpoint policy applies
        }
        Endpoint clientPod = s.podsByIp().get(clientIp);
        dev.sluice.policy.Peer client = clientPod != null ? clientPod
                : clientIp.equals(s.localNodeIp()) || clientIp.equals(s.gateway()) ? new dev.sluice.policy.Peer.Reserved(ReservedIdentity.HOST)
                : s.nodeIps().contains(clientIp) ? new dev.sluice.policy.Peer.Reserved(ReservedIdentity.REMOTE_NODE)
                : new dev.sluice.policy.Peer.External(ip(clientIp));
        if (clientPod != null) {
            var egress = oracle.decide(s.policies(), clientPod, dev.sluice.policy.Direction.EGRESS, backend, dev.sluice.model.Protocol.TCP, port);
            if (!egress.allowed()) {
                return java.util.Optional.of(egress.reason() + " on egress of " + clientPod.namespace() + "/" + clientPod.name()
                        + (egress.policy() == null ? "" : " (" + egress.policy() + ")"));
            }
        }
        var ingress = oracle.decide(s.policies(), backend, dev.sluice.policy.Direction.INGRESS, client, dev.sluice.model.Protocol.TCP, port);
        return ingress.allowed() ? java.util.Optional.empty()
                : java.util.Optional.of(ingress.reason() + " on ingress of " + backend.namespace() + "/" + backend.name()
                        + (ingress.policy() == null ? "" : " (" + ingress.policy() + ")"));
    }
    /** Lets {@link #admitted} ask the proxy to forward from client addresses; off until the node can route the replies. */
    public void clientSourceForwarding(boolean on) {
        clientSourceForwarding = on;
    }

    /**
     * What the L7 proxy applies to a request from {@code clientIp} to the pod at {@code backendIp}:{@code port}
     * (TCP). The client's egress is the proxy's to enforce (the datapath judged it as egress to the node): denied
     * when it does not admit the backend. Then, for a client pod of this node that no HTTP rule restricts on that
     * port, the proxy forwards from the client's own address ({@link dev.sluice.l7.policy.Admitted#fromClient}) and
     * the backend's datapath decides L4 by the client's identity, as for a direct connection; when it will drop
     * the client, the answer says why (the proxy still connects: the kernel decides, and its flow names the
     * client). Otherwise (HTTP rules restrict the client, whom the datapath therefore does not admit directly; a
     * client that is not a local pod) the proxy forwards from the node's address and decides L4 itself, with L7
     * allows counting ({@link ReferenceEvaluator#decideProxied}); allowed, it gets the HTTP rules that restrict the
     * client there (none: any request). Thread-safe.
     */
    public dev.sluice.l7.policy.Admitted admitted(String clientIp, String backendIp, int port) {
        Snapshot s = snapshot;
        if (s == null) {
            return dev.sluice.l7.policy.Admitted.denied("no policy state yet");
        }
        Endpoint backend = s.podsByIp().get(backendIp);
        if (backend == null) {
            return dev.sluice.l7.policy.Admitted.ANY_REQUEST; // not a pod: no endpoint policy applies
        }
        Endpoint clientPod = s.podsByIp().get(clientIp);
        dev.sluice.policy.Peer client = clientPod != null ? clientPod
                : clientIp.equals(s.localNodeIp()) || clientIp.equals(s.gateway()) ? new dev.sluice.policy.Peer.Reserved(ReservedIdentity.HOST)
                : s.nodeIps().contains(clientIp) ? new dev.sluice.policy.Peer.Reserved(ReservedIdentity.REMOTE_NODE)
                : new dev.sluice.policy.Peer.External(ip(clientIp));
        if (clientPod != null) {
            var egress = oracle.decide(s.policies(), clientPod, dev.sluice.policy.Direction.EGRESS, backend, dev.sluice.model.Protocol.TCP, port);
            if (!egress.allowed()) {
                return dev.sluice.l7.policy.Admitted.denied(egress.reason() + " on egress of " + clientPod.namespace() + "/"
                        + clientPod.name() + (egress.policy() == null ? "" : " (" + egress.policy() + ")"));
            }
        }
        var ingress = oracle.decideProxied(s.policies(), backend, client, port);
        List<ReferenceEvaluator.AppliedHttpRule> applied = ingress.allowed() ? oracle.httpRules(s.policies(), backend, client, port) : List.of();
        if (clientSourceForwarding && clientPod != null && s.localPodIps().contains(clientIp) && applied.isEmpty()) {
            // The datapath's own view of a direct connection; it agrees with the proxy's for a peer no HTTP rule
            // restricts, which is checked rather than assumed (a disagreement keeps the node's address).
            var direct = oracle.decide(s.policies(), backend, dev.sluice.policy.Direction.INGRESS, clientPod, dev.sluice.model.Protocol.TCP, port);
            if (direct.allowed() == ingress.allowed()) {
                return dev.sluice.l7.policy.Admitted.fromClient(direct.reason(), direct.allowed() ? ""
                        : direct.reason() + " on ingress of " + backend.namespace() + "/" + backend.name()
                        + (direct.policy() == null ? "" : " (" + direct.policy() + ")"));
            }
        }
        if (!ingress.allowed()) {
            return dev.sluice.l7.policy.Admitted.denied(ingress.reason() + " on ingress of " + backend.namespace() + "/"
                    + backend.name() + (ingress.policy() == null ? "" : " (" + ingress.policy() + ")"));
        }
        List<dev.sluice.l7.policy.HttpRule> rules = new ArrayList<>();
        for (var a : applied) {
            var r = a.rule();
            rules.add(new dev.sluice.l7.policy.HttpRule(r.method() == null ? null : r.method().pattern(),
                    r.path() == null ? null : r.path().pattern(), r.host() == null ? null : r.host().pattern(),
                    r.headers().stream().map(h -> new dev.sluice.l7.policy.HttpRule.Header(h.name(), h.value())).toList(),
                    a.policy() + " " + r.rule()));
        }
        return new dev.sluice.l7.policy.Admitted(true, ingress.reason(), rules);
    }

    private final Map<String, Policy> lastGood = new LinkedHashMap<>();
    private final PolicyRevisions revisions = new PolicyRevisions();
    private final Map<String, Integer> endpointIds = new LinkedHashMap<>();
    /** The local pods by endpoint id, as of the last sync: for status and metrics, read on other threads. */
    private volatile Map<Integer, String> endpointPods = Map.of();

    /**
     * What one sync did, for status, and who is who for naming flows.
     *
     * @param podIdentities every pod's identity, by {@code namespace/name}
     * @param identityLabels the labels of every identity in use (reserved, pods' and CIDRs'), as Cilium prints them
     */
    public record Result(int policies, List<String> errors, int endpoints, int enforcing, int entries, int identities,
                         List<String> failClosed, Map<String, Integer> podIdentities, Map<Integer, List<String>> identityLabels) {
    }

    /** The policy map's capacity (POLICY_MAX_ENTRIES in bpf/include/policy.h). */
    static final int MAP_CAPACITY = 65536;

    public PolicyAgent(String node, dev.sluice.agent.api.Identities.Store identities, PolicyDatapath datapath) {
        this.node = node;
        this.identities = identities;
        this.datapath = datapath;
    }

    public RuleTable rules() {
        return rules;
    }

    private List<Labels> inUse;

    /**
     * Releases identities unused for longer than the grace period even while nothing changes (the
     * identities in use are those of the last sync, so no entry in force changes). Returns how many
     * identities are kept.
     */
    public int collectIdentities() {
        return inUse == null ? 0 : identities.allocate(inUse).assignments().size();
    }

    /** The node whose endpoints this agent enforces on. */
    public String node() {
        return node;
    }

    public Result sync(ClusterView state) {
        return sync(state, java.util.Set.of());
    }

    /**
     * @param proxied the pods' {@code ip:port}s the L7 proxies forward to: they accept the proxies of other nodes
     *                (remote-node) on that port, since a proxy admitted the caller by its identity before
     *                forwarding (the backend sees the proxy's node, not the caller); the local proxy is the host,
     *                which may always reach local endpoints
     */
    public Result sync(ClusterView state, java.util.Set<String> proxied) {
        List<String> errors = new ArrayList<>();
        PolicySet policies = policies(state.objects(), errors);
        Map<Pod, Labels> labels = ClusterPolicy.identityLabels(state);
        IdentityAllocator allocator = identities.allocate(labels.values());
        inUse = List.copyOf(labels.values());
        Map<Pod, Endpoint> endpoints = new LinkedHashMap<>();
        labels.forEach((p, l) -> endpoints.put(p, new Endpoint(p.namespace(), p.name(), allocator.allocate(l), p.ports(), ip(p.ip()))));
        Map<Cidr, Identity> cidrs = allocator.allocateCidrs(policies);
        // Pods an ipBlock tells apart from others with their labels carry an identity of their own as peers.
        Map<Endpoint, Identity> split = PeerIdentities.split(policies, endpoints.values(), allocator);

        Map<Endpoint, Integer> local = new LinkedHashMap<>();
        Map<Integer, EndpointInfo> infos = new LinkedHashMap<>();
        Map<Integer, Pod> localPods = new LinkedHashMap<>();
        for (Map.Entry<Pod, Endpoint> e : endpoints.entrySet()) {
            Pod p = e.getKey();
            if (!p.node().equals(node)) {
                continue;
            }
            int id = endpointIds.computeIfAbsent(p.key(), k -> endpointIds.size() + 1);
            local.put(e.getValue(), id);
            localPods.put(id, p);
        }
        endpointPods = localPods.entrySet().stream().collect(Collectors.toUnmodifiableMap(Map.Entry::getKey, e -> e.getValue().key()));
        List<EndpointPolicy> compiled = failClosedBeyondCapacity(withProxies(
                compiler.compile(policies, local, List.copyOf(endpoints.values()), split, cidrs), localPods, proxied));
        List<String> failClosed = compiled.stream().filter(EndpointPolicy::failClosed).map(EndpointPolicy::pod).toList();
        int enforcing = 0;
        for (EndpointPolicy ep : compiled) {
            Pod p = localPods.get(ep.endpointId());
            int ifindex = Libc.ifNameToIndex(p.hostInterface());
            if (ifindex <= 0) {
                continue;
            }
            enforcing += ep.enforceIngress() || ep.enforceEgress() ? 1 : 0;
            infos.put(ifindex, new EndpointInfo(ep.identity(), ep.endpointId(), ep.enforceIngress(), ep.enforceEgress(),
                    ep.defaultDenyIngressRule(), ep.defaultDenyEgressRule(), ip(p.ip()), ep.failClosed() ? 1 : 0,
                    mac(p, errors)));
        }

        Map<String, Endpoint> byIp = new java.util.HashMap<>();
        endpoints.forEach((p, e) -> byIp.put(p.ip(), e));
        java.util.Set<String> nodeIps = state.nodes().stream().map(ClusterView.Node::address).collect(Collectors.toSet());
        var self = state.node(node);
        java.util.Set<String> localPodIps = state.pods().stream().filter(p -> p.node().equals(node) && p.ip() != null)
                .map(Pod::ip).collect(Collectors.toUnmodifiableSet());
        snapshot = new Snapshot(policies, Map.copyOf(byIp), node, nodeIps, self.map(ClusterView.Node::address).orElse(""),
                self.map(ClusterView.Node::podGateway).orElse(""), localPodIps);
        revisionListener.accept(revision.incrementAndGet());

        Map<Lpm<Inet4Address>, IpcacheValue> ipcache = new LinkedHashMap<>();
        endpoints.forEach((p, e) -> ipcache.put(new Lpm<>(32, ip(p.ip())), new IpcacheValue(split.getOrDefault(e, e.identity()).id(), 0)));
        for (ClusterView.Node n : state.nodes()) {
            ReservedIdentity r = n.name().equals(node) ? ReservedIdentity.HOST : ReservedIdentity.REMOTE_NODE;
            ipcache.put(new Lpm<>(32, ip(n.address())), new IpcacheValue(r.id(), 0));
        }
        // The node's address on its pod veths: what the node itself (kubelet-like probes, the agent) sends from.
        state.node(node).ifPresent(n -> ipcache.put(new Lpm<>(32, ip(n.podGateway())), new IpcacheValue(ReservedIdentity.HOST.id(), 0)));
        cidrs.forEach((c, id) -> {
            if (c.network() instanceof Inet4Address v4) {
                ipcache.putIfAbsent(new Lpm<>(c.prefixLength(), v4), new IpcacheValue(id.id(), 0));
            }
        });

        // Entries first, then the endpoints that enforce them, then who is who: a new endpoint is never
        // enforced before its allows are in place.
        int entries = datapath.writePolicies(compiled);
        datapath.writeEndpoints(infos);
        datapath.writeIpcache(ipcache);
        // Last: the revisions that make established flows be decided again under what was just written.
        datapath.writeRevisions(revisions.next(compiled, infos, ipcache, datapath::revision));
        datapath.syncVeths(localPods.values().stream().map(Pod::hostInterface).collect(Collectors.toSet()));
        Map<String, Integer> podIdentities = new LinkedHashMap<>();
        endpoints.forEach((p, e) -> podIdentities.put(p.key(), e.identity().id()));
        Map<Integer, List<String>> identityLabels = new LinkedHashMap<>();
        for (ReservedIdentity r : ReservedIdentity.values()) {
            identityLabels.put(r.id(), r.identity().labels().labels().stream().map(Object::toString).toList());
        }
        allocator.assignments().forEach((l, id) -> identityLabels.put(id, l.labels().stream().map(Object::toString).toList()));
        cidrs.values().forEach(id -> identityLabels.put(id.id(), id.labels().labels().stream().map(Object::toString).toList()));
        split.values().forEach(id -> identityLabels.put(id.id(), id.labels().labels().stream().map(Object::toString).toList()));
        return new Result(policies.policies().size(), errors, local.size(), enforcing, entries, allocator.assignments().size(), failClosed,
                podIdentities, identityLabels);
    }

    /** Adds the remote-node allows {@link #sync(ClusterView, java.util.Set)} describes, to endpoints that enforce ingress. */
    private static List<EndpointPolicy> withProxies(List<EndpointPolicy> compiled, Map<Integer, Pod> localPods, java.util.Set<String> proxied) {
        if (proxied.isEmpty()) {
            return compiled;
        }
        List<EndpointPolicy> out = new ArrayList<>();
        for (EndpointPolicy ep : compiled) {
            Pod pod = localPods.get(ep.endpointId());
            List<PolicyEntry> added = new ArrayList<>();
            if (pod != null && ep.enforceIngress() && !ep.failClosed()) {
                for (String target : proxied) {
                    int colon = target.lastIndexOf(':');
                    if (target.substring(0, colon).equals(pod.ip())) {
                        added.add(new PolicyEntry(ep.endpointId(), dev.sluice.datapath.abi.Direction.INGRESS.value(),
                                ReservedIdentity.REMOTE_NODE.id(), dev.sluice.datapath.abi.Protocol.TCP.value(),
                                Integer.parseInt(target.substring(colon + 1)), false, 0));
                    }
                }
            }
            if (added.isEmpty()) {
                out.add(ep);
            } else {
                List<PolicyEntry> entries = new ArrayList<>(ep.entries());
                entries.addAll(added);
                out.add(new EndpointPolicy(ep.pod(), ep.endpointId(), ep.identity(), ep.enforceIngress(), ep.enforceEgress(),
                        ep.defaultDenyIngressRule(), ep.defaultDenyEgressRule(), ep.failClosed(), List.copyOf(entries)));
            }
        }
        return out;
    }

    /**
     * Keeps the entries within the map's capacity: endpoints whose entries do not fit (the largest first)
     * lose them and fail closed, dropping every new connection, rather than running with half a policy.
     */
    static List<EndpointPolicy> failClosedBeyondCapacity(List<EndpointPolicy> compiled) {
        int total = compiled.stream().mapToInt(e -> e.entries().size()).sum();
        if (total <= MAP_CAPACITY) {
            return compiled;
        }
        List<EndpointPolicy> bySize = new ArrayList<>(compiled);
        bySize.sort(java.util.Comparator.comparingInt((EndpointPolicy e) -> e.entries().size()).reversed());
        java.util.Set<Integer> closed = new java.util.HashSet<>();
        for (EndpointPolicy e : bySize) {
            if (total <= MAP_CAPACITY) {
                break;
            }
            total -= e.entries().size();
            closed.add(e.endpointId());
        }
        return compiled.stream().map(e -> closed.contains(e.endpointId())
                ? new EndpointPolicy(e.pod(), e.endpointId(), e.identity(), e.enforceIngress(), e.enforceEgress(),
                        e.defaultDenyIngressRule(), e.defaultDenyEgressRule(), true, List.of())
                : e).toList();
    }

    private PolicySet policies(List<OtherObject> others, List<String> errors) {
        Map<String, Policy> now = new LinkedHashMap<>();
        for (OtherObject o : others) {
            if (!PolicyParser.isPolicy(o)) {
                continue;
            }
            String key = o.kind() + "/" + o.ref();
            try {
                Policy p = PolicyParser.parse(o, w -> { });
                now.put(key, p);
            } catch (ManifestException e) {
                errors.add(e.getMessage().lines().findFirst().orElse(e.getMessage()) + " (the last good version stays in force)");
                Policy previous = lastGood.get(key);
                if (previous != null) {
                    now.put(key, previous);
                }
            }
        }
        lastGood.clear();
        lastGood.putAll(now);
        return new PolicySet(List.copyOf(now.values()));
    }

    /** The local pod ({@code ns/name}) with this endpoint id, or {@code endpoint N} for one that is gone. */
    public String podOf(int endpointId) {
        String pod = endpointPods.get(endpointId);
        return pod != null ? pod : "endpoint " + endpointId;
    }

    /**
     * The pod's MAC for the source MAC check, 0 (not checked) when the cluster source does not know it, or when what
     * it says is not a MAC (reported in {@code errors}, naming the pod; its other checks stay in force).
     */
    private static long mac(Pod p, List<String> errors) {
        try {
            return EndpointInfo.parseMac(p.mac());
        } catch (IllegalArgumentException e) {
            errors.add("pod " + p.key() + ": mac: " + e.getMessage() + "; its source MAC is not checked");
            return 0;
        }
    }

    static Inet4Address ip(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(dotted, e);
        }
    }

}
