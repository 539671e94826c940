package dev.sluice.datapath;

import dev.sluice.libbpf.TypedMap;
import dev.sluice.libbpf.UpdateFlag;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A map only the agent writes, with the agent's copy of what is in it: read from the kernel once (when the
 * agent adopts a pinned map after a restart), then kept in step with every write. Making the map hold a
 * new set of entries costs a comparison in memory and the writes that differ, never a walk of the map.
 *
 * <p>Not for maps the datapath writes too (conntrack, counters): their copy would go stale.
 */
public final class MirroredMap<K, V> {
    private final TypedMap<K, V> map;
    private final Map<K, V> copy;

    private MirroredMap(TypedMap<K, V> map, Map<K, V> copy) {
        this.map = map;
        this.copy = copy;
    }

    /** Adopts {@code map} as it is now (one walk). */
    public static <K, V> MirroredMap<K, V> adopt(TypedMap<K, V> map) {
        return new MirroredMap<>(map, new HashMap<>(map.entries()));
    }

    /** What the changes of one {@link #replaceWith}: entries written (new or changed) and deleted. */
    public record Delta(int written, int deleted) {
        public boolean empty() {
            return written == 0 && deleted == 0;
        }
    }

    /**
     * Makes the map hold exactly {@code wanted}. New and changed entries first, then the ones no longer
     * wanted: a reader never sees a gap where an entry is replaced. If the kernel refuses a write (a full
     * map), the copy is re-read so that it stays true, and the error is thrown.
     */
    public Delta replaceWith(Map<K, V> wanted) {
        Map<K, V> changed = new HashMap<>();
        wanted.forEach((k, v) -> {
            if (!v.equals(copy.get(k))) {
                changed.put(k, v);
            }
        });
        List<K> stale = new ArrayList<>();
        for (K k : copy.keySet()) {
            if (!wanted.containsKey(k)) {
                stale.add(k);
            }
        }
        try {
            if (!changed.isEmpty()) {
                map.updateBatch(changed, UpdateFlag.ANY);
                copy.putAll(changed);
            }
            if (!stale.isEmpty()) {
                map.deleteBatch(stale);
                stale.forEach(copy::remove);
            }
        } catch (RuntimeException e) {
            copy.clear();
            copy.putAll(map.entries());
            throw e;
        }
        return new Delta(changed.size(), stale.size());
    }

    /** How many entries the map holds. */
    public int size() {
        return copy.size();
    }

    /** The entries the map holds (a copy). */
    public Map<K, V> entries() {
        return Map.copyOf(copy);
    }
}
