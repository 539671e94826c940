package dev.sluice.datapath.lb;

import dev.sluice.datapath.lb.LbStructs.Ct4Key;
import dev.sluice.datapath.lb.LbStructs.Ct4LbEntry;
import dev.sluice.datapath.lb.LbStructs.Lb4Affinity;
import dev.sluice.datapath.lb.LbStructs.Lb4AffinityKey;
import dev.sluice.datapath.lb.LbStructs.Lb4Backend;
import dev.sluice.datapath.lb.LbStructs.Lb4Key;
import dev.sluice.datapath.lb.LbStructs.Lb4ReverseNat;
import dev.sluice.datapath.lb.LbStructs.Lb4Service;
import dev.sluice.datapath.lb.LbStructs.Lb4SockKey;
import dev.sluice.datapath.lb.LbStructs.Lb4SockRevNat;
import dev.sluice.datapath.lb.LbStructs.LbConfig;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.BpfObject;
import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.MapType;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.libbpf.UpdateFlag;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tests' stand-in for the agent: writes Services, backends and Maglev tables into a loaded object's
 * LB maps through the Java mirrors of lb.h, in the order the contract asks (slots before slot 0).
 */
final class LbTestMaps {
    static final Codec<Integer> U16 = Codec.of(2, s -> Short.toUnsignedInt(s.get(Codecs.U16, 0)),
            (v, s) -> s.set(Codecs.U16, 0, (short) (int) v));

    final TypedMap<Lb4Key, Lb4Service> services;
    final TypedMap<Integer, Lb4Backend> backends;
    final TypedMap<Integer, Lb4ReverseNat> reverseNat;
    final TypedMap<Lb4AffinityKey, Lb4Affinity> affinity;
    final TypedMap<Lb4SockKey, Lb4SockRevNat> sockRevNat;
    final TypedMap<Integer, LbConfig> config;
    final TypedMap<Ct4Key, Ct4LbEntry> ct;
    final BpfMap maglev;

    LbTestMaps(BpfObject object) {
        services = object.map("lb4_services").typed(Lb4Key.CODEC, Lb4Service.CODEC);
        backends = object.map("lb4_backends").typed(Codecs.u32(), Lb4Backend.CODEC);
        reverseNat = object.map("lb4_reverse_nat").typed(U16, Lb4ReverseNat.CODEC);
        affinity = object.map("lb4_affinity").typed(Lb4AffinityKey.CODEC, Lb4Affinity.CODEC);
        sockRevNat = object.map("lb4_sock_revnat").typed(Lb4SockKey.CODEC, Lb4SockRevNat.CODEC);
        config = object.map("lb4_config").typed(Codecs.u32(), LbConfig.CODEC);
        ct = object.map("ct4_lb").typed(Ct4Key.CODEC, Ct4LbEntry.CODEC);
        maglev = object.map("lb4_maglev");
    }

    static Inet4Address ip(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(dotted, e);
        }
    }

    void backend(int id, String address, int port, int proto) {
        backends.update(id, new Lb4Backend(ip(address), port, proto));
    }

    /** A frontend with the given backends in slots 1..n (none: a Service that rejects). */
    void service(String address, int port, int proto, int revNatIndex, int flags, int affinityTimeout, List<Integer> backendIds) {
        Lb4Key head = new Lb4Key(ip(address), port, 0, proto);
        reverseNat.update(revNatIndex, new Lb4ReverseNat(ip(address), port));
        for (int i = 0; i < backendIds.size(); i++) {
            services.update(head.withSlot(i + 1), new Lb4Service(backendIds.get(i), 0, revNatIndex, flags, 0));
        }
        services.update(head, new Lb4Service(0, backendIds.size(), revNatIndex, flags, affinityTimeout));
    }

    /**
     * The frontend's Maglev table over {@code backendIds}, named by {@code names} (stable keys, as the
     * agent names backends); returns the table of backend ids, entry by entry.
     */
    int[] maglev(int revNatIndex, int tableSize, List<Integer> backendIds, List<String> names) {
        config.update(0, new LbConfig(tableSize, 0));
        int[] slots = Maglev.table(names, tableSize);
        int[] ids = new int[tableSize];
        try (BpfMap inner = BpfMap.create(MapType.ARRAY, "lbt_maglev", 4, 4, tableSize, LbStructs.MAGLEV_INNER_MAP_FLAGS)) {
            Map<Integer, Integer> entries = new LinkedHashMap<>();
            for (int i = 0; i < tableSize; i++) {
                ids[i] = backendIds.get(slots[i]);
                entries.put(i, ids[i]);
            }
            inner.typed(Codecs.u32(), Codecs.u32()).updateBatch(entries, UpdateFlag.ANY);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment key = arena.allocate(2);
                key.set(Codecs.U16, 0, (short) revNatIndex);
                MemorySegment value = arena.allocate(4);
                value.set(Codecs.U32, 0, inner.fd());
                maglev.update(key, value, UpdateFlag.ANY);
            }
        }
        return ids;
    }

    /** The ct4_lb entries whose frontend is {@code address:port}, both directions. */
    List<Ct4LbEntry> ctEntriesOf(String address, int port) {
        List<Ct4LbEntry> out = new ArrayList<>();
        ct.forEach((k, v) -> {
            if (v.frontendAddress().equals(ip(address)) && v.frontendPort() == port) {
                out.add(v);
            }
        });
        return out;
    }
}
