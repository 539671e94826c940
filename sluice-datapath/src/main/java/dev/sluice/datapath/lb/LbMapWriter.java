package dev.sluice.datapath.lb;

import dev.sluice.datapath.abi.ServiceFlag;
import dev.sluice.datapath.lb.LbStructs;
import dev.sluice.datapath.lb.LbStructs.Lb4Backend;
import dev.sluice.datapath.lb.LbStructs.Lb4Key;
import dev.sluice.datapath.lb.LbStructs.Lb4ReverseNat;
import dev.sluice.datapath.lb.LbStructs.Lb4Service;
import dev.sluice.datapath.lb.LbStructs.LbConfig;
import dev.sluice.datapath.lb.Maglev;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.MapType;
import dev.sluice.libbpf.UpdateFlag;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Writes compiled frontends into the LB maps, changing only what differs from what is in force, in an
 * order a concurrent reader can never catch half-done:
 * <ol>
 *   <li>new backends, reverse-NAT entries and Maglev tables are written first;</li>
 *   <li>backend slots 1..n are written before slot 0 announces n, so every slot a reader can pick exists;</li>
 *   <li>slots beyond the new count, and backends nobody references, are deleted last;</li>
 *   <li>a removed frontend loses slot 0 first, so no new connection starts while its slots go.</li>
 * </ol>
 * A removed backend is unreachable for new connections once its slot is overwritten (step 2); connections
 * already translated keep their backend.
 */
public final class LbMapWriter {

    private final LbMaps maps;
    private final int maglevTableSize;
    private final boolean maglev;
    private final Map<String, Frontend> inForce = new LinkedHashMap<>();

    /**
     * @param maglev whether to build Maglev tables for the per-packet LB. Socket LB balances in-cluster
     *               connections at connect(); the per-packet path then only sees the rest, falls back to a
     *               random slot and keeps each flow's backend in conntrack, so the tables (a map-of-maps
     *               update and 4 bytes per entry per Service) are only worth it without socket LB.
     */
    public LbMapWriter(LbMaps maps, int maglevTableSize, boolean maglev) {
        if (!Maglev.isPrime(maglevTableSize)) {
            throw new IllegalArgumentException("maglev table size must be a prime, got " + maglevTableSize);
        }
        this.maps = maps;
        this.maglevTableSize = maglevTableSize;
        this.maglev = maglev;
        maps.config().update(0, new LbConfig(maglevTableSize, 0));
    }

    /** The frontends in force, by key. */
    public Map<String, Frontend> inForce() {
        return Map.copyOf(inForce);
    }

    /**
     * What pinned maps hold from an earlier agent: frontend ids by key and backend ids by key, so that a
     * restarted agent keeps every id (and established connections keep their reverse NAT).
     */
    public static Ids readIds(LbMaps maps) {
        Map<String, Integer> frontends = new HashMap<>();
        Map<String, Integer> backends = new HashMap<>();
        maps.services().forEach((k, v) -> {
            if (k.slot() == 0) {
                frontends.put(k.address().getHostAddress() + ":" + k.port() + "/" + k.proto(), v.revNatIndex());
            }
        });
        maps.backends().forEach((id, b) -> backends.put(b.address().getHostAddress() + ":" + b.port() + "/" + b.proto(), id));
        return new Ids(frontends, backends);
    }

    /** Frontend and backend ids by key. */
    public record Ids(Map<String, Integer> frontends, Map<String, Integer> backends) {
    }

    /**
     * Adopts what the maps hold (after a restart) as the state in force, so that the next {@link #sync}
     * deletes what is gone and rewrites only what changed.
     */
    public void adopt(List<Frontend> previous) {
        previous.forEach(f -> inForce.put(f.key(), f));
    }

    /** Reads the frontends the maps hold, with their backends, in slot order. */
    public static List<Frontend> read(LbMaps maps) {
        Map<Integer, Lb4Backend> backends = maps.backends().entries();
        Map<Lb4Key, Lb4Service> services = maps.services().entries();
        List<Frontend> out = new ArrayList<>();
        services.forEach((k, v) -> {
            if (k.slot() != 0) {
                return;
            }
            List<Backend> list = new ArrayList<>();
            for (int slot = 1; slot <= v.count(); slot++) {
                Lb4Service s = services.get(k.withSlot(slot));
                Lb4Backend b = s == null ? null : backends.get(s.backendId());
                if (b != null) {
                    list.add(new Backend(b.address().getHostAddress(), b.port(), b.proto(), s.backendId(), null));
                }
            }
            out.add(new Frontend(null, null, k.address().getHostAddress(), k.port(), k.proto(), v.revNatIndex(),
                    ServiceFlag.AFFINITY.isSetIn(v.flags()), v.affinityTimeoutSeconds(), list));
        });
        out.sort(java.util.Comparator.comparingInt(Frontend::id));
        return out;
    }

    /** Makes the maps serve exactly {@code desired}. Returns how many frontends changed. */
    public int sync(List<Frontend> desired) {
        Map<String, Frontend> next = desired.stream().collect(Collectors.toMap(Frontend::key, f -> f, (a, b) -> b, LinkedHashMap::new));
        List<Frontend> changed = desired.stream().filter(f -> !same(inForce.get(f.key()), f)).toList();
        List<Frontend> removed = inForce.values().stream().filter(f -> !next.containsKey(f.key())).toList();
        if (changed.isEmpty() && removed.isEmpty()) {
            return 0;
        }

        // 1. backends, reverse NAT and Maglev tables the changed frontends need
        Map<Integer, Lb4Backend> newBackends = new LinkedHashMap<>();
        Map<Integer, Lb4ReverseNat> revNat = new LinkedHashMap<>();
        for (Frontend f : changed) {
            Frontend old = inForce.get(f.key());
            // Only what is new: a backend another frontend already wrote, or a reverse-NAT entry whose frontend
            // kept its id, address and port, is already in the map (at 1,000 Services sharing 4 backends, one
            // pod more is then 1 backend and 2,000 slots written instead of 5,000 backends and 7,000 entries).
            for (Backend b : f.backends()) {
                if (!newBackends.containsKey(b.id()) && (old == null || old.backends().stream().noneMatch(b::sameSlot))) {
                    newBackends.put(b.id(), new Lb4Backend(ip(b.address()), b.port(), b.proto()));
                }
            }
            if (old == null || old.id() != f.id() || !old.address().equals(f.address()) || old.port() != f.port()) {
                revNat.put(f.id(), new Lb4ReverseNat(ip(f.address()), f.port()));
            }
        }
        maps.backends().updateBatch(newBackends, UpdateFlag.ANY);
        maps.reverseNat().updateBatch(revNat, UpdateFlag.ANY);
        if (maglev) {
            writeMaglev(changed);
        }

        // 2. slots 1..n, then slot 0
        Map<Lb4Key, Lb4Service> slots = new LinkedHashMap<>();
        Map<Lb4Key, Lb4Service> heads = new LinkedHashMap<>();
        for (Frontend f : changed) {
            Lb4Key head = new Lb4Key(ip(f.address()), f.port(), 0, f.proto());
            int flags = f.affinity() ? ServiceFlag.AFFINITY.value() : 0;
            Frontend old = inForce.get(f.key());
            boolean sameHead = old != null && old.id() == f.id() && old.affinity() == f.affinity();
            for (int i = 0; i < f.backends().size(); i++) {
                // A slot that already names the same backend stays as it is.
                if (sameHead && i < old.backends().size() && old.backends().get(i).id() == f.backends().get(i).id()) {
                    continue;
                }
                slots.put(head.withSlot(i + 1), new Lb4Service(f.backends().get(i).id(), 0, f.id(), flags, 0));
            }
            heads.put(head, new Lb4Service(0, f.backends().size(), f.id(), flags, f.affinityTimeoutSeconds()));
        }
        maps.services().updateBatch(slots, UpdateFlag.ANY);
        maps.services().updateBatch(heads, UpdateFlag.ANY);

        // 3. what is no longer needed: surplus slots, removed frontends (slot 0 first), unreferenced backends
        List<Lb4Key> surplus = new ArrayList<>();
        for (Frontend f : changed) {
            Frontend old = inForce.get(f.key());
            if (old != null) {
                for (int slot = f.backends().size() + 1; slot <= old.backends().size(); slot++) {
                    surplus.add(new Lb4Key(ip(f.address()), f.port(), slot, f.proto()));
                }
            }
        }
        deleteKeys(surplus);
        for (Frontend f : removed) {
            Lb4Key head = new Lb4Key(ip(f.address()), f.port(), 0, f.proto());
            maps.services().delete(head);
            List<Lb4Key> own = new ArrayList<>();
            for (int slot = 1; slot <= f.backends().size(); slot++) {
                own.add(head.withSlot(slot));
            }
            deleteKeys(own);
            maps.reverseNat().delete(f.id());
        }
        if (maglev) {
            // One batch, one RCU grace period; only tables that exist (a batch delete stops at a missing key).
            Set<Integer> tables = new java.util.HashSet<>(maps.maglev().keys());
            maps.maglev().deleteBatch(removed.stream().map(Frontend::id).filter(tables::contains).toList());
        }
        Set<Integer> referenced = next.values().stream().flatMap(f -> f.backends().stream()).map(Backend::id).collect(Collectors.toSet());
        List<Integer> orphans = inForce.values().stream().flatMap(f -> f.backends().stream()).map(Backend::id)
                .filter(id -> !referenced.contains(id)).distinct().toList();
        for (Integer id : orphans) {
            maps.backends().delete(id);
        }

        inForce.clear();
        inForce.putAll(next);
        return changed.size() + removed.size();
    }

    private void deleteKeys(List<Lb4Key> keys) {
        for (Lb4Key k : keys) {
            maps.services().delete(k);
        }
    }

    /**
     * Fresh inner tables, swapped in by one batch update of the outer map: a reader sees each Service's
     * old table or its new one, and the batch waits for one RCU grace period instead of one per Service.
     */
    private void writeMaglev(List<Frontend> changed) {
        Map<Integer, Integer> swaps = new LinkedHashMap<>();
        List<BpfMap> tables = new ArrayList<>();
        try {
            for (Frontend f : changed) {
                if (f.backends().isEmpty()) {
                    maps.maglev().delete(f.id()); // rare: a Service losing its last backend
                    continue;
                }
                int[] table = Maglev.table(f.backends().stream().map(Backend::key).toList(), maglevTableSize);
                BpfMap inner = BpfMap.create(MapType.ARRAY, "maglev_" + f.id(), 4, 4, maglevTableSize,
                        dev.sluice.datapath.lb.LbStructs.MAGLEV_INNER_MAP_FLAGS);
                tables.add(inner);
                int[] ids = f.backends().stream().mapToInt(Backend::id).toArray();
                long stride = inner.arrayStride();
                // Not yet visible to any program: the table is complete before the outer map names it.
                inner.writeMapped(m -> {
                    for (int i = 0; i < table.length; i++) {
                        m.set(Codecs.U32, i * stride, ids[table[i]]);
                    }
                });
                swaps.put(f.id(), inner.fd());
            }
            maps.maglev().updateBatch(swaps, UpdateFlag.ANY);
        } finally {
            // The outer map holds the tables now; our descriptors are no longer needed.
            tables.forEach(BpfMap::close);
        }
    }

    private static boolean same(Frontend a, Frontend b) {
        if (a == null) {
            return false;
        }
        if (a.id() != b.id() || a.affinity() != b.affinity() || a.affinityTimeoutSeconds() != b.affinityTimeoutSeconds()
                || a.backends().size() != b.backends().size()) {
            return false;
        }
        // Called for every frontend of every change (1,000 Services sharing a pod: 1,000 times), so no strings.
        for (int i = 0; i < a.backends().size(); i++) {
            if (!a.backends().get(i).sameSlot(b.backends().get(i))) {
                return false;
            }
        }
        return true;
    }

    static Inet4Address ip(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IPv4 address: " + dotted, e);
        }
    }
}
