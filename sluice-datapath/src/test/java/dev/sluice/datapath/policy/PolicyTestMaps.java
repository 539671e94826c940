package dev.sluice.datapath.policy;

import dev.sluice.datapath.policy.PolicyStructs.Ct4Entry;
import dev.sluice.datapath.policy.PolicyStructs.Ct4Tuple;
import dev.sluice.datapath.policy.PolicyStructs.DropKey;
import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.datapath.policy.PolicyStructs.EndpointInfo;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheKey;
import dev.sluice.datapath.policy.PolicyStructs.IpcacheValue;
import dev.sluice.datapath.policy.PolicyStructs.PolicyEntry;
import dev.sluice.datapath.policy.PolicyStructs.PolicyKey;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.TypedMap;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/** The tests' stand-in for the agent: the pod_policy maps through the Java mirrors of policy.h. */
final class PolicyTestMaps {
    final TypedMap<IpcacheKey, IpcacheValue> ipcache;
    final TypedMap<Integer, EndpointInfo> endpoints;
    final TypedMap<PolicyKey, PolicyEntry> policy;
    /** Both conntrack tables as one (an entry is in one of them): established first, as the programs look. */
    final Ct ct;
    final TypedMap<Ct4Tuple, Ct4Entry> ctEstablished;
    final TypedMap<Ct4Tuple, Ct4Entry> ctNew;
    final TypedMap<DropKey, List<DropValue>> drops;
    /** ct4_quota by endpoint id. */
    final TypedMap<Integer, PolicyStructs.Ct4Quota> quota;
    /** policy_revisions by endpoint id. */
    final TypedMap<Integer, PolicyStructs.PolicyRevision> revisions;

    PolicyTestMaps(BpfObject object) {
        ipcache = object.map(PolicyStructs.MAP_IPCACHE).typed(IpcacheKey.CODEC, IpcacheValue.CODEC);
        endpoints = object.map(PolicyStructs.MAP_ENDPOINTS).typed(Codecs.u32(), EndpointInfo.CODEC);
        policy = object.map(PolicyStructs.MAP_POLICY).typed(PolicyKey.CODEC, PolicyEntry.CODEC);
        ctEstablished = object.map(PolicyStructs.MAP_CT).typed(Ct4Tuple.CODEC, Ct4Entry.CODEC);
        ctNew = object.map(PolicyStructs.MAP_CT_NEW).typed(Ct4Tuple.CODEC, Ct4Entry.CODEC);
        ct = new Ct(ctEstablished, ctNew);
        drops = object.map(PolicyStructs.MAP_DROPS).typedPerCpu(DropKey.CODEC, DropValue.CODEC);
        quota = object.map(PolicyStructs.MAP_CT_QUOTA).typed(Codecs.u32(), PolicyStructs.Ct4Quota.CODEC);
        revisions = object.map(PolicyStructs.MAP_POLICY_REVISIONS).typed(Codecs.u32(), PolicyStructs.PolicyRevision.CODEC);
    }

    /** Sets an endpoint's policy revision, as the agent does after writing a change of its policy. */
    void revision(int endpointId, int revision, int ifindex) {
        revisions.update(endpointId, new PolicyStructs.PolicyRevision(revision, ifindex));
    }

    /** ct4_policy and ct4_policy_new read as one table. */
    record Ct(TypedMap<Ct4Tuple, Ct4Entry> established, TypedMap<Ct4Tuple, Ct4Entry> fresh) {
        Optional<Ct4Entry> lookup(Ct4Tuple key) {
            Optional<Ct4Entry> e = established.lookup(key);
            return e.isPresent() ? e : fresh.lookup(key);
        }

        List<Ct4Tuple> keys() {
            List<Ct4Tuple> keys = new java.util.ArrayList<>(fresh.keys());
            keys.addAll(established.keys());
            return keys;
        }

        Map<Ct4Tuple, Ct4Entry> entries() {
            Map<Ct4Tuple, Ct4Entry> all = new java.util.HashMap<>(fresh.entries());
            all.putAll(established.entries());
            return all;
        }

        boolean delete(Ct4Tuple key) {
            boolean a = established.delete(key);
            return fresh.delete(key) || a;
        }
    }

    static Inet4Address ip(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(dotted, e);
        }
    }

    void ipcache(String address, int prefixLength, int identity) {
        ipcache.update(new IpcacheKey(prefixLength, ip(address)), new IpcacheValue(identity));
    }

    void allow(int endpointId, int direction, int remoteIdentity, int proto, int port, int ruleId) {
        policy.update(new PolicyKey(remoteIdentity, endpointId, direction, proto, port), PolicyEntry.allow(ruleId));
    }

    void deny(int endpointId, int direction, int remoteIdentity, int proto, int port, int ruleId) {
        policy.update(new PolicyKey(remoteIdentity, endpointId, direction, proto, port), PolicyEntry.denial(ruleId));
    }

    /** Empties the policy, the CT and the drop counters (the ipcache and endpoints stay). */
    void clearState() {
        // One delete per key: the programs add and remove CT entries meanwhile, and a batch delete fails
        // on a key that is already gone.
        policy.keys().forEach(policy::delete);
        ct.keys().forEach(ct::delete);
        drops.keys().forEach(drops::delete);
        // The tests' endpoint ids are small; an ARRAY keeps every index, so only these are reset.
        for (int id = 0; id < 1024; id++) {
            quota.update(id, new PolicyStructs.Ct4Quota(0, 0, 0));
            revisions.update(id, new PolicyStructs.PolicyRevision(0, 0));
        }
    }

    /** A drop counter added up over the CPUs; zero when absent. */
    DropValue drops(int endpointId, int direction, int reason, int ruleId, int remoteIdentity) {
        return drops.lookup(new DropKey(endpointId, direction, reason, ruleId, remoteIdentity))
                .map(DropValue::sum).orElse(DropValue.ZERO);
    }

    /** Every drop counter, added up over the CPUs. */
    Map<DropKey, DropValue> allDrops() {
        return drops.entries().entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> DropValue.sum(e.getValue())));
    }

    Optional<Ct4Entry> ct(String source, String destination, int sourcePort, int destinationPort, int proto, int direction) {
        return ct.lookup(new Ct4Tuple(ip(source), ip(destination), sourcePort, destinationPort, proto, direction));
    }
}
