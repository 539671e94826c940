package dev.sluice.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.function.BiConsumer;

/**
 * A BPF map whose keys and values are Java values, converted by codecs. Not thread-confined: every call
 * allocates its own native scratch memory.
 */
public final class TypedMap<K, V> {
    private final BpfMap map;
    private final Codec<K> keys;
    private final Codec<V> values;

    TypedMap(BpfMap map, Codec<K> keys, Codec<V> values) {
        this.map = map;
        this.keys = keys;
        this.values = values;
    }

    public BpfMap raw() {
        return map;
    }

    public Optional<V> lookup(K key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(values.size());
            return map.lookup(encodeKey(arena, key), value) ? Optional.of(values.decode(value)) : Optional.empty();
        }
    }

    public void update(K key, V value) {
        update(key, value, UpdateFlag.ANY);
    }

    public void update(K key, V value, UpdateFlag flag) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(values.size());
            values.encode(value, v);
            map.update(encodeKey(arena, key), v, flag);
        }
    }

    /** Deletes {@code key}; false when it was not there. */
    public boolean delete(K key) {
        try (Arena arena = Arena.ofConfined()) {
            return map.delete(encodeKey(arena, key));
        }
    }

    /** Every key, in the kernel's iteration order. Concurrent changes may add or skip keys, as in C. */
    public List<K> keys() {
        List<K> out = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment current = arena.allocate(keys.size());
            MemorySegment next = arena.allocate(keys.size());
            MemorySegment previous = MemorySegment.NULL;
            while (map.nextKey(previous, next)) {
                out.add(keys.decode(next));
                MemorySegment.copy(next, 0, current, 0, keys.size());
                previous = current;
            }
        }
        return out;
    }

    /** Every entry, in iteration order. Keys deleted between listing and lookup are left out. */
    public SequencedMap<K, V> entries() {
        SequencedMap<K, V> out = new LinkedHashMap<>();
        forEach(out::put);
        return out;
    }

    public void forEach(BiConsumer<K, V> action) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment current = arena.allocate(keys.size());
            MemorySegment next = arena.allocate(keys.size());
            MemorySegment value = arena.allocate(values.size());
            MemorySegment previous = MemorySegment.NULL;
            while (map.nextKey(previous, next)) {
                if (map.lookup(next, value)) {
                    action.accept(keys.decode(next), values.decode(value));
                }
                MemorySegment.copy(next, 0, current, 0, keys.size());
                previous = current;
            }
        }
    }

    /**
     * Writes all entries in one BPF_MAP_UPDATE_BATCH call where the map type supports it and the flag
     * is {@link UpdateFlag#ANY} (the kernel's batch call knows no NOEXIST/EXIST), else one update per
     * entry. Returns the number written.
     */
    public int updateBatch(Map<K, V> entries, UpdateFlag flag) {
        int n = entries.size();
        if (n == 0) {
            return 0;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(keys.size() * n);
            MemorySegment v = arena.allocate(values.size() * n);
            int i = 0;
            for (Map.Entry<K, V> e : entries.entrySet()) {
                keys.encode(e.getKey(), k.asSlice(i * keys.size(), keys.size()));
                values.encode(e.getValue(), v.asSlice(i * values.size(), values.size()));
                i++;
            }
            if (map.type().batchUpdate() && flag == UpdateFlag.ANY) {
                return map.updateBatch(k, v, n);
            }
            for (i = 0; i < n; i++) {
                map.update(k.asSlice(i * keys.size(), keys.size()), v.asSlice(i * values.size(), values.size()), flag);
            }
            return n;
        }
    }

    /**
     * Deletes all keys in one BPF_MAP_DELETE_BATCH call where the map type supports it, else one delete
     * per key. With the batch call every key must exist (ENOENT otherwise). Returns the number deleted.
     */
    public int deleteBatch(Collection<K> toDelete) {
        int n = toDelete.size();
        if (n == 0) {
            return 0;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(keys.size() * n);
            int i = 0;
            for (K key : toDelete) {
                keys.encode(key, k.asSlice(i++ * keys.size(), keys.size()));
            }
            if (map.type().batchDelete()) {
                return map.deleteBatch(k, n);
            }
            int deleted = 0;
            for (i = 0; i < n; i++) {
                deleted += map.delete(k.asSlice(i * keys.size(), keys.size())) ? 1 : 0;
            }
            return deleted;
        }
    }

    private MemorySegment encodeKey(Arena arena, K key) {
        MemorySegment k = arena.allocate(keys.size());
        keys.encode(key, k);
        return k;
    }
}
