package dev.sluice.datapath.prefilter;

import dev.sluice.datapath.policy.PolicyStructs.DropValue;
import dev.sluice.libbpf.BpfMap;
import dev.sluice.libbpf.Codec;
import dev.sluice.libbpf.Codecs;
import dev.sluice.libbpf.Lpm;
import dev.sluice.libbpf.TypedMap;
import dev.sluice.libbpf.UpdateFlag;

import java.net.Inet4Address;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The prefilter's maps (bpf/include/prefilter.h, bpf/xdp_prefilter.bpf.c): the blocked CIDRs (an LPM trie whose
 * value is the key again, the CIDR that matched) and the per-CPU drop counters per CIDR. Used by the agent's
 * prefilter subsystem and by {@code sluice prefilter}, on a node's pinned maps.
 */
public final class PrefilterMaps implements AutoCloseable {
    public static final String OBJECT = "xdp_prefilter";
    public static final String PROGRAM = "xdp_prefilter";
    /** LPM_TRIE of prefilter_key -> prefilter_key. */
    public static final String MAP_CIDRS = "prefilter_v4";
    /** LRU_PERCPU_HASH of prefilter_key -> drop_value. */
    public static final String MAP_DROPS = "prefilter_drops";
    /** prefilter.h's PREFILTER_MAX_ENTRIES. */
    public static final int MAX_ENTRIES = 65536;

    public static final Codec<Lpm<Inet4Address>> KEY = Codecs.lpm(Codecs.ipv4());

    private final TypedMap<Lpm<Inet4Address>, Lpm<Inet4Address>> cidrs;
    private final TypedMap<Lpm<Inet4Address>, List<DropValue>> drops;
    private final List<BpfMap> owned = new ArrayList<>();

    /** Over maps someone else owns (a loaded object's). */
    public PrefilterMaps(BpfMap cidrs, BpfMap drops) {
        this.cidrs = cidrs.typed(KEY, KEY);
        this.drops = drops.typedPerCpu(KEY, DropValue.CODEC);
    }

    /** The maps pinned in a node's map directory, or null when the prefilter never ran there. */
    public static PrefilterMaps openPinned(Path mapDir) {
        Path c = mapDir.resolve(MAP_CIDRS);
        Path d = mapDir.resolve(MAP_DROPS);
        if (!Files.exists(c) || !Files.exists(d)) {
            return null;
        }
        BpfMap cm = BpfMap.openPinned(c);
        BpfMap dm = BpfMap.openPinned(d);
        PrefilterMaps maps = new PrefilterMaps(cm, dm);
        maps.owned.add(cm);
        maps.owned.add(dm);
        return maps;
    }

    /** The blocked CIDRs, read from the kernel. */
    public SortedSet<Cidr> list() {
        SortedSet<Cidr> out = new TreeSet<>();
        for (Lpm<Inet4Address> k : cidrs.keys()) {
            out.add(Cidr.of(k));
        }
        return out;
    }

    /** Blocks {@code add} (one batch call where the kernel has it); returns how many were written. */
    public int add(Collection<Cidr> add) {
        Map<Lpm<Inet4Address>, Lpm<Inet4Address>> entries = new LinkedHashMap<>();
        for (Cidr c : add) {
            entries.put(c.key(), c.key());
        }
        return cidrs.updateBatch(entries, UpdateFlag.ANY);
    }

    /** Unblocks {@code delete} and forgets their counters; returns how many were blocked. */
    public int delete(Collection<Cidr> delete) {
        int n = 0;
        for (Cidr c : delete) {
            if (cidrs.delete(c.key())) {
                n++;
            }
            drops.delete(c.key());
        }
        return n;
    }

    /** Packets and bytes dropped per CIDR (the CPUs added up), for CIDRs that dropped anything. */
    public SortedMap<Cidr, DropValue> drops() {
        SortedMap<Cidr, DropValue> out = new TreeMap<>();
        drops.forEach((k, v) -> out.merge(Cidr.of(k), DropValue.sum(v), (a, b) -> new DropValue(a.packets() + b.packets(), a.bytes() + b.bytes())));
        return out;
    }

    /** The counter of one CIDR (zero when it dropped nothing). */
    public DropValue drops(Cidr cidr) {
        return drops.lookup(cidr.key()).map(DropValue::sum).orElse(DropValue.ZERO);
    }

    @Override
    public void close() {
        owned.forEach(BpfMap::close);
    }
}
