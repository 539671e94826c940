package dev.sluice.agent.policy;

import dev.sluice.datapath.MirroredMap;
import dev.sluice.datapath.Programs;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Quota;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.datapath.policy.PolicyStructs.PolicyKey;
import dev.sluice.libbpf.BpfFs;
import dev.sluice.libbpf.BpfLink;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.Lpm;
import dev.sluice.libbpf.TcDirection;
import dev.sluice.libbpf.TcxPosition;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.linux.Libc;

import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A node's policy datapath: bpf/pod_policy.bpf.c on every pod veth of the node, and its maps (ipcache,
 * endpoints, policy entries, conntrack, drop counters), pinned next to the load-balancing ones.
 * Each write replaces what is in force with what is given, changing only the entries that differ from the
 * agent's copy of the map (no map walk per write).
 *
 * <p>Chain order on a pod veth: leaving the pod, DNAT (from_pod, first) then egress policy (last), so
 * policy judges the real backend; entering the pod, ingress policy (first) then reverse NAT (to_pod,
 * last), so policy still sees the backend's address on replies and matches their conntrack entry.
 */
public final class PolicyDatapath implements AutoCloseable {
    private final Path pinDir;
    private final BpfObject object;
    private final MirroredMap<Lpm<Inet4Address>, IpcacheValue> ipcache;
    private final MirroredMap<Integer, EndpointInfo> endpoints;
    private final MirroredMap<PolicyKey, dev.sluice.datapath.policy.PolicyStructs.PolicyEntry> entries;
    private final TypedMap<dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple, dev.sluice.datapath.policy.PolicyStructs.Ct4Entry> conntrack;
    private final TypedMap<dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple, dev.sluice.datapath.policy.PolicyStructs.Ct4Entry> conntrackNew;
    private final Map<String, List<BpfLink>> links = new HashMap<>();
    private final TypedMap<Integer, Ct4Quota> quota;
    private final TypedMap<Integer, dev.sluice.datapath.policy.PolicyStructs.PolicyRevision> revisions;
    /** The endpoint ids whose ct4_quota entry the last recount left non-zero: the next one must zero those it no longer finds. */
    private Set<Integer> counted = Set.of();

    public PolicyDatapath(Path pinDir, int flowRingBytes) {
        this.pinDir = pinDir;
        BpfFs.ensureMounted(BpfFs.DEFAULT_ROOT);
        this.object = Programs.openForNode(Programs.POD_POLICY, pinDir.resolve("maps"), flowRingBytes).load();
        // Only the agent writes these three: each is read once here (adopting what a predecessor wrote) and
        // from then on written by difference with the agent's copy.
        this.ipcache = MirroredMap.adopt(object.map("ipcache").typed(Codecs.lpm(Codecs.ipv4()), IpcacheValue.CODEC));
        this.endpoints = MirroredMap.adopt(object.map("endpoints").typed(Codecs.u32(), EndpointInfo.CODEC));
        this.entries = MirroredMap.adopt(object.map("policy_entries").typed(PolicyKey.CODEC,
                dev.sluice.datapath.policy.PolicyStructs.PolicyEntry.CODEC));
        this.conntrack = object.map(dev.sluice.datapath.policy.PolicyStructs.MAP_CT).typed(
                dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple.CODEC, dev.sluice.datapath.policy.PolicyStructs.Ct4Entry.CODEC);
        this.conntrackNew = object.map(dev.sluice.datapath.policy.PolicyStructs.MAP_CT_NEW).typed(
                dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple.CODEC, dev.sluice.datapath.policy.PolicyStructs.Ct4Entry.CODEC);
        this.quota = object.map(dev.sluice.datapath.policy.PolicyStructs.MAP_CT_QUOTA).typed(Codecs.u32(), Ct4Quota.CODEC);
        this.revisions = object.map(dev.sluice.datapath.policy.PolicyStructs.MAP_POLICY_REVISIONS).typed(Codecs.u32(),
                dev.sluice.datapath.policy.PolicyStructs.PolicyRevision.CODEC);
    }

    /**
     * Conntrack after one collection: the live entries of both tables (established: ct4_policy; not yet
     * established: ct4_policy_new, where a flood of new flows stays), their capacities, how many expired
     * entries were collected, and per endpoint id its ct4_quota (entries held in ct4_policy as recounted, limit,
     * flows refused) for every endpoint that holds entries or was ever refused; {@code policyDenied}: the live entries
     * of flows a policy change cut (re-checked and denied, CT_F_POLICY_DENIED: kept, so a later change can resume them).
     */
    public record Conntrack(int established, int fresh, int collected, int establishedCapacity, int freshCapacity,
                            Map<Integer, Ct4Quota> quotas, int policyDenied) {
        public static final Conntrack NONE = new Conntrack(0, 0, 0, 0, 0, Map.of(), 0);

        public Conntrack {
            quotas = Map.copyOf(quotas);
        }

        public int entries() {
            return established + fresh;
        }

        /** The new-flow table's fill, 0..1: near 1, new flows are evicting each other (a flood, or a busy node). */
        public double freshPressure() {
            return freshCapacity == 0 ? 0 : (double) fresh / freshCapacity;
        }

        /** The established table's fill, 0..1. */
        public double establishedPressure() {
            return establishedCapacity == 0 ? 0 : (double) established / establishedCapacity;
        }

        /** The endpoints at (or past) their limit. */
        public Map<Integer, Ct4Quota> atLimit() {
            Map<Integer, Ct4Quota> at = new java.util.TreeMap<>();
            quotas.forEach((id, q) -> {
                if (Integer.toUnsignedLong(q.established()) >= Integer.toUnsignedLong(q.effectiveLimit())) {
                    at.put(id, q);
                }
            });
            return at;
        }

        /** Flows refused a place in ct4_policy (kept in ct4_policy_new) since the maps were made, all endpoints. */
        public long refused() {
            return quotas.values().stream().mapToLong(Ct4Quota::refused).sum();
        }
    }

    /**
     * Deletes expired conntrack entries, and recounts each endpoint's entries in ct4_policy into its ct4_quota.
     * The datapath already treats expired entries as absent; collecting them keeps the table from filling with dead
     * flows under churn, which would make the LRU evict live ones. Why the recount: the datapath counts an endpoint's
     * entries up as it promotes its flows, but entries also leave by expiry and LRU eviction, which tell nobody; the
     * count from the table itself is the truth, so the bound drifts by at most what one interval promotes. Lifetimes
     * are on the kernel's monotonic clock, which System.nanoTime() reads on Linux.
     */
    public Conntrack collectExpired() {
        Map<Integer, Integer> perEndpoint = new HashMap<>();
        int[] established = collect(conntrack, perEndpoint);
        int[] fresh = collect(conntrackNew, null);
        return new Conntrack(established[0], fresh[0], established[1] + fresh[1],
                object.map(dev.sluice.datapath.policy.PolicyStructs.MAP_CT).maxEntries(),
                object.map(dev.sluice.datapath.policy.PolicyStructs.MAP_CT_NEW).maxEntries(), recount(perEndpoint),
                established[2] + fresh[2]);
    }

    /**
     * Writes each endpoint's count into its ct4_quota entry (keeping its limit, and the refusals the datapath
     * counts), zeroes those no longer holding entries; returns the entries that hold or refused something.
     * Read-modify-write of a value the datapath updates atomically: a promotion or refusal between the read and
     * the write is lost from the counters, which the next recount corrects for the count.
     */
    private Map<Integer, Ct4Quota> recount(Map<Integer, Integer> perEndpoint) {
        Set<Integer> ids = new java.util.HashSet<>(counted);
        ids.addAll(perEndpoint.keySet());
        Map<Integer, Ct4Quota> quotas = new HashMap<>();
        Set<Integer> nonZero = new java.util.HashSet<>();
        for (int id : ids) {
            Ct4Quota old = quota.lookup(id).orElse(new Ct4Quota(0, 0, 0));
            Ct4Quota now = new Ct4Quota(perEndpoint.getOrDefault(id, 0), old.limit(), old.refused());
            if (!now.equals(old)) {
                quota.update(id, now);
            }
            if (now.established() != 0 || now.refused() != 0) {
                quotas.put(id, now);
                nonZero.add(id);
            }
        }
        counted = nonZero;
        return quotas;
    }

    /**
     * {live entries left, entries collected, live entries marked denied by a re-check} of one table; the live ones
     * counted by endpoint id when perEndpoint is given.
     */
    private static int[] collect(TypedMap<dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple, dev.sluice.datapath.policy.PolicyStructs.Ct4Entry> table,
                                 Map<Integer, Integer> perEndpoint) {
        long now = System.nanoTime();
        List<dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple> expired = new ArrayList<>();
        int[] total = {0, 0};
        table.forEach((k, v) -> {
            total[0]++;
            if (v.lifetimeNs() < now) {
                expired.add(k);
                return;
            }
            if (v.has(dev.sluice.datapath.abi.CtFlag.POLICY_DENIED)) {
                total[1]++;
            }
            if (perEndpoint != null) {
                perEndpoint.merge(v.endpointId(), 1, Integer::sum);
            }
        });
        int collected = 0;
        for (var k : expired) {
            collected += table.delete(k) ? 1 : 0; // one by one: an entry may vanish (LRU) meanwhile
        }
        return new int[] {total[0] - collected, collected, total[1]};
    }

    public BpfObject object() {
        return object;
    }

    /** Makes the ipcache hold exactly {@code wanted}. */
    public void writeIpcache(Map<Lpm<Inet4Address>, IpcacheValue> wanted) {
        ipcache.replaceWith(wanted);
    }

    /** Makes the endpoints map hold exactly {@code wanted} (by host-side veth ifindex). */
    public void writeEndpoints(Map<Integer, EndpointInfo> wanted) {
        endpoints.replaceWith(wanted);
    }

    /** Makes the policy map hold exactly the compiled entries. */
    public int writePolicies(List<EndpointPolicy> compiled) {
        Map<PolicyKey, dev.sluice.datapath.policy.PolicyStructs.PolicyEntry> wanted = new HashMap<>();
        for (EndpointPolicy ep : compiled) {
            for (PolicyEntry e : ep.entries()) {
                wanted.put(new PolicyKey(e.remoteIdentity(), e.endpointId(), e.direction(), e.proto(), e.port()),
                        new dev.sluice.datapath.policy.PolicyStructs.PolicyEntry(e.deny(), e.ruleId()));
            }
        }
        entries.replaceWith(wanted);
        return wanted.size();
    }

    /** An endpoint's policy revision in the map now (0: none written). */
    public int revision(int endpointId) {
        return revisions.lookup(endpointId).map(dev.sluice.datapath.policy.PolicyStructs.PolicyRevision::revision).orElse(0);
    }

    /**
     * Writes endpoints' policy revisions: after the entries, endpoints and ipcache they describe, so that the datapath
     * never takes a new revision for rules it has not got yet (bpf/include/policy_decide.h, policy_recheck).
     */
    public void writeRevisions(Map<Integer, dev.sluice.datapath.policy.PolicyStructs.PolicyRevision> changed) {
        changed.forEach(revisions::update);
    }

    /** Attaches the policy programs to each veth that lacks them (adopting pinned links); forgets removed veths. */
    public void syncVeths(Set<String> veths) {
        for (String veth : veths) {
            if (links.containsKey(veth)) {
                continue;
            }
            int ifindex = Libc.ifNameToIndex(veth);
            if (ifindex <= 0) {
                continue;
            }
            links.put(veth, dev.sluice.agent.core.LinkPair.attach(
                    () -> link(veth + "-pfrom", () -> object.program("policy_from_pod").attachTcx(ifindex, TcDirection.INGRESS, TcxPosition.LAST)),
                    () -> link(veth + "-pto", () -> object.program("policy_to_pod").attachTcx(ifindex, TcDirection.EGRESS, TcxPosition.FIRST))));
        }
        for (String veth : List.copyOf(links.keySet())) {
            if (!veths.contains(veth) && !veth.equals(UPLINK_LINK)) {
                links.remove(veth).forEach(BpfLink::close);
                BpfFs.unpin(pinDir.resolve("links").resolve(veth + "-pfrom"));
                BpfFs.unpin(pinDir.resolve("links").resolve(veth + "-pto"));
            }
        }
    }

    private BpfLink link(String name, java.util.function.Supplier<BpfLink> attach) {
        Path pin = pinDir.resolve("links").resolve(name);
        if (Files.exists(pin)) {
            return BpfLink.openPinned(pin);
        }
        BpfLink link = attach.get();
        link.pin(pin);
        return link;
    }

    /**
     * Attaches {@code proxy_reply_uplink} at the tcx ingress of the node's uplink (adopting a pinned link): replies
     * from other nodes' backends to the node proxy's client-source connections are marked for local delivery
     * (docs/l7.md, "Identity-preserving forwarding"). On pod veths {@code policy_from_pod} does the same.
     *
     * @throws IllegalStateException when the device is not in this namespace
     */
    public void attachUplink(String device) {
        if (links.containsKey(UPLINK_LINK)) {
            return;
        }
        int ifindex = Libc.ifNameToIndex(device);
        if (ifindex <= 0) {
            throw new IllegalStateException("the uplink " + device + " is not in this namespace");
        }
        links.put(UPLINK_LINK, List.of(link(UPLINK_LINK,
                () -> object.program("proxy_reply_uplink").attachTcx(ifindex, TcDirection.INGRESS, TcxPosition.LAST))));
    }

    private static final String UPLINK_LINK = "node-uplink-proxy-reply";

    public int attachedVeths() {
        return links.size() - (links.containsKey(UPLINK_LINK) ? 1 : 0);
    }

    @Override
    public void close() {
        links.values().forEach(l -> l.forEach(BpfLink::close));
        object.close();
    }
}
