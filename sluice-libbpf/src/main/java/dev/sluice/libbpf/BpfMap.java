package dev.sluice.libbpf;

import dev.sluice.linux.Errno;
import dev.sluice.linux.Libc;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A BPF map: a file descriptor with a name, a type and fixed key and value sizes. Raw operations take
 * native segments; {@link #typed} gives a {@link TypedMap} that speaks Java records through codecs.
 *
 * <p>A map that belongs to a {@link BpfObject} is closed with it; a map created or opened from a pin by
 * this class owns its descriptor and closes it in {@link #close()}.
 */
public final class BpfMap implements AutoCloseable {
    private final String name;
    private final int fd;
    private final MapType type;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;
    private final boolean ownsFd;

    BpfMap(String name, int fd, MapType type, int keySize, int valueSize, int maxEntries, boolean ownsFd) {
        this.name = name;
        this.fd = fd;
        this.type = type;
        this.keySize = keySize;
        this.valueSize = valueSize;
        this.maxEntries = maxEntries;
        this.ownsFd = ownsFd;
    }

    /** map_flags: a map meant to be the value of a map of maps, whose max_entries may differ from the template's. */
    public static final int F_INNER_MAP = 0x1000;
    /** map_flags: an ARRAY whose values can be mapped into memory ({@link #writeMapped}). */
    public static final int F_MMAPABLE = 0x400;
    private static final int PAGE_SIZE = 4096;

    /** Creates a map outside any object, e.g. an LPM trie sized at run time. */
    public static BpfMap create(MapType type, String name, int keySize, int valueSize, int maxEntries, int mapFlags) {
        try (Call call = new Call()) {
            MemorySegment opts = call.arena.allocate(48);
            opts.set(Codecs.U64, 0, 48L);
            opts.set(Codecs.U32, 28, mapFlags);
            int fd = (int) LibBpf.MAP_CREATE.invokeExact(call.state, type.value(), call.string(name), keySize,
                    valueSize, maxEntries, opts);
            if (fd < 0) {
                throw BpfException.of("create " + type + " map '" + name + "'", call.errno());
            }
            return new BpfMap(name, fd, type, keySize, valueSize, maxEntries, true);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** Opens a map pinned on bpffs, reading its type and sizes from the kernel. */
    public static BpfMap openPinned(Path path) {
        int fd = BpfFs.openPinned(path);
        try (Call call = new Call()) {
            // struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags, name[16], ...
            MemorySegment info = call.arena.allocate(88);
            MemorySegment len = call.arena.allocate(4);
            len.set(Codecs.U32, 0, 88);
            int rc = (int) LibBpf.OBJ_GET_INFO_BY_FD.invokeExact(call.state, fd, info, len);
            if (rc < 0) {
                Libc.close(fd);
                throw BpfException.of("read info of pinned map " + path, call.errno());
            }
            String name = info.asSlice(24, 16).getString(0);
            return new BpfMap(name, fd, MapType.of(info.get(Codecs.U32, 0)), info.get(Codecs.U32, 8),
                    info.get(Codecs.U32, 12), info.get(Codecs.U32, 16), true);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    public String name() {
        return name;
    }

    public int fd() {
        return fd;
    }

    public MapType type() {
        return type;
    }

    public int keySize() {
        return keySize;
    }

    public int valueSize() {
        return valueSize;
    }

    /** The bytes from one element of an ARRAY to the next in its memory: the kernel rounds values up to 8. */
    public int arrayStride() {
        return (valueSize + 7) & ~7;
    }

    /**
     * Writes an ARRAY created with {@link #F_MMAPABLE} through memory: {@code writer} gets the map's values,
     * element {@code i} at offset {@code i * arrayStride()}, and may write any of them. One mmap instead of
     * one copy from user space per element: filling a 1,021-entry table costs microseconds, not a syscall's
     * walk over every element. Programs see each store as it happens (there is no atomic swap here).
     */
    public void writeMapped(java.util.function.Consumer<MemorySegment> writer) {
        if (type != MapType.ARRAY) {
            throw new IllegalArgumentException("map '" + name + "' is " + type + ": only an ARRAY can be mapped");
        }
        long length = ((long) arrayStride() * maxEntries + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
        MemorySegment memory;
        try {
            memory = Libc.mmapShared(fd, length);
        } catch (dev.sluice.linux.LinuxException e) {
            throw new BpfException("map ARRAY '" + name + "' into memory (was it created with F_MMAPABLE?): " + e.getMessage(), 0);
        }
        try {
            writer.accept(memory.asSlice(0, (long) arrayStride() * maxEntries));
        } finally {
            Libc.munmap(memory);
        }
    }

    public int maxEntries() {
        return maxEntries;
    }

    /** The number of bytes a lookup writes: per-CPU maps hold one 8-byte-aligned slot per possible CPU. */
    public long valueBufferSize() {
        return type.perCpu() ? ((valueSize + 7L) & ~7L) * BpfSystem.possibleCpus() : valueSize;
    }

    /**
     * This map through codecs. The codecs' sizes must equal the map's key size and value size (for
     * per-CPU maps, use {@link #typedPerCpu}).
     */
    public <K, V> TypedMap<K, V> typed(Codec<K> keys, Codec<V> values) {
        if (type.perCpu()) {
            throw new IllegalArgumentException("map '" + name + "' is " + type + ": use typedPerCpu");
        }
        checkSize("key", keys.size(), keySize);
        checkSize("value", values.size(), valueSize);
        return new TypedMap<>(this, keys, values);
    }

    /** A per-CPU map through codecs: each value is a list with one element per possible CPU. */
    public <K, V> TypedMap<K, java.util.List<V>> typedPerCpu(Codec<K> keys, Codec<V> value) {
        if (!type.perCpu()) {
            throw new IllegalArgumentException("map '" + name + "' is " + type + ", not a per-CPU map");
        }
        checkSize("key", keys.size(), keySize);
        checkSize("value", value.size(), valueSize);
        return new TypedMap<>(this, keys, Codecs.perCpu(value, BpfSystem.possibleCpus()));
    }

    private void checkSize(String what, long codec, int map) {
        if (codec != map) {
            throw new IllegalArgumentException("map '" + name + "': " + what + " is " + map
                    + " bytes in the BPF object but the Java codec has " + codec + ": the C struct and its Java mirror disagree");
        }
    }

    // ---- raw operations: segments are keySize / valueBufferSize() bytes

    /** Looks {@code key} up into {@code value}; false when the key is absent. */
    public boolean lookup(MemorySegment key, MemorySegment value) {
        try (Call call = new Call()) {
            int rc = (int) LibBpf.MAP_LOOKUP_ELEM.invokeExact(call.state, fd, key, value);
            if (rc == 0) {
                return true;
            }
            if (call.errno() == Errno.ENOENT) {
                return false;
            }
            throw BpfException.of("lookup in map '" + name + "'", call.errno());
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    public void update(MemorySegment key, MemorySegment value, UpdateFlag flag) {
        try (Call call = new Call()) {
            int rc = (int) LibBpf.MAP_UPDATE_ELEM.invokeExact(call.state, fd, key, value, flag.value);
            if (rc != 0) {
                throw BpfException.of("update map '" + name + "' (" + flag + ")", call.errno());
            }
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** Deletes {@code key}; false when it was absent. */
    public boolean delete(MemorySegment key) {
        try (Call call = new Call()) {
            int rc = (int) LibBpf.MAP_DELETE_ELEM.invokeExact(call.state, fd, key);
            if (rc == 0) {
                return true;
            }
            if (call.errno() == Errno.ENOENT) {
                return false;
            }
            throw BpfException.of("delete from map '" + name + "'", call.errno());
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** Writes the key after {@code key} (the first key when {@code key} is NULL) into {@code next}; false at the end. */
    public boolean nextKey(MemorySegment key, MemorySegment next) {
        try (Call call = new Call()) {
            int rc = (int) LibBpf.MAP_GET_NEXT_KEY.invokeExact(call.state, fd, key, next);
            if (rc == 0) {
                return true;
            }
            if (call.errno() == Errno.ENOENT) {
                return false;
            }
            throw BpfException.of("iterate map '" + name + "'", call.errno());
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** BPF_MAP_UPDATE_BATCH (create or replace) over {@code count} packed keys and values; returns how many were written. */
    int updateBatch(MemorySegment keys, MemorySegment values, int count) {
        try (Call call = new Call()) {
            MemorySegment n = call.arena.allocate(4);
            n.set(Codecs.U32, 0, count);
            MemorySegment opts = batchOpts(call);
            int rc = (int) LibBpf.MAP_UPDATE_BATCH.invokeExact(call.state, fd, keys, values, n, opts);
            if (rc != 0) {
                throw BpfException.of("batch update of map '" + name + "' (" + n.get(Codecs.U32, 0) + " of " + count
                        + " written)", call.errno());
            }
            return n.get(Codecs.U32, 0);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    /** BPF_MAP_DELETE_BATCH over {@code count} packed keys; every key must exist. */
    int deleteBatch(MemorySegment keys, int count) {
        try (Call call = new Call()) {
            MemorySegment n = call.arena.allocate(4);
            n.set(Codecs.U32, 0, count);
            int rc = (int) LibBpf.MAP_DELETE_BATCH.invokeExact(call.state, fd, keys, n, batchOpts(call));
            if (rc != 0) {
                throw BpfException.of("batch delete from map '" + name + "' (" + n.get(Codecs.U32, 0) + " of " + count
                        + " deleted)", call.errno());
            }
            return n.get(Codecs.U32, 0);
        } catch (Throwable t) {
            throw Call.unexpected(t);
        }
    }

    private static MemorySegment batchOpts(Call call) {
        MemorySegment opts = call.arena.allocate(24); // struct bpf_map_batch_opts { sz; elem_flags; flags; }
        opts.set(Codecs.U64, 0, 24L);
        return opts;
    }

    /** Pins this map at {@code path} on bpffs (creating parent directories), so that it outlives the process. */
    public void pin(Path path) {
        BpfFs.pin(fd, path, "map '" + name + "'");
    }

    @Override
    public void close() {
        if (ownsFd) {
            Libc.close(fd);
        }
    }

    @Override
    public String toString() {
        return type + " map '" + name + "' (fd " + fd + ", key " + keySize + " B, value " + valueSize + " B, max " + maxEntries + ")";
    }
}
